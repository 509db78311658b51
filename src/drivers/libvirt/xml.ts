/**
 * Just enough XML for libvirt documents: escaping for what we write, and a
 * scanner for the few elements we read back (disk, interface, our metadata).
 *
 * Why no XML parser: libvirt's output is regular (it formats every document
 * itself) and the elements we look for never nest an element of their own
 * name, so a scan for `<tag ...>...</tag>` is exact for them. Anything we
 * write goes through escapeText/escapeAttr; anything we read is unescaped.
 */

/** Characters XML 1.0 cannot carry at all, even escaped. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find control characters
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isXmlSafe(s: string): boolean {
  return !INVALID_XML_CHARS.test(s);
}

function assertXmlSafe(s: string): void {
  if (!isXmlSafe(s)) {
    throw new TypeError(`text contains characters XML cannot represent: ${JSON.stringify(s.slice(0, 64))}`);
  }
}

/** Escape element text. Throws on characters XML 1.0 cannot carry (callers encode those first). */
export function escapeText(s: string): string {
  assertXmlSafe(s);
  // \r as a reference: a parser would otherwise fold \r\n into \n.
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

/** Escape an attribute value for either quote style. */
export function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}

export function unescapeXml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_m, ent: string) => {
    switch (ent) {
      case 'amp': return '&';
      case 'lt': return '<';
      case 'gt': return '>';
      case 'quot': return '"';
      case 'apos': return "'";
      default:
        return String.fromCodePoint(ent.startsWith('#x') ? Number.parseInt(ent.slice(2), 16) : Number.parseInt(ent.slice(1), 10));
    }
  });
}

/** One element found in a document: its full text and where it sits. */
export interface XmlElement {
  text: string;
  start: number;
  end: number;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Every `<tag ...>...</tag>` or `<tag .../>` in `xml`, in document order.
 * Valid only for tags that never contain an element of the same name.
 */
export function findElements(xml: string, tag: string): XmlElement[] {
  const t = escapeRegExp(tag);
  const re = new RegExp(`<${t}(?=[\\s/>])(?:[^>"']|"[^"]*"|'[^']*')*?(?:/>|>[\\s\\S]*?</${t}\\s*>)`, 'g');
  const out: XmlElement[] = [];
  for (const m of xml.matchAll(re)) {
    const start = m.index ?? 0;
    out.push({ text: m[0], start, end: start + m[0].length });
  }
  return out;
}

export function findElement(xml: string, tag: string): XmlElement | undefined {
  return findElements(xml, tag)[0];
}

/** The start tag of an element (`<tag a='1'>` or `<tag a='1'/>`). */
function startTag(element: string): string {
  const m = /^<(?:[^>"']|"[^"]*"|'[^']*')*>/.exec(element);
  return m ? m[0] : element;
}

/** An attribute of the element's own start tag, unescaped. */
export function attrOf(element: string, name: string): string | undefined {
  const re = new RegExp(`\\s${escapeRegExp(name)}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`);
  const m = re.exec(startTag(element));
  if (!m) return undefined;
  return unescapeXml(m[1] ?? m[2] ?? '');
}

/** An attribute of the first `<child>` inside the element. */
export function childAttr(element: string, child: string, name: string): string | undefined {
  const el = findElement(element, child);
  return el ? attrOf(el.text, name) : undefined;
}

/** The text of the first `<child>text</child>` inside the element, unescaped. */
export function childText(element: string, child: string): string | undefined {
  const t = escapeRegExp(child);
  const m = new RegExp(`<${t}(?:\\s[^>]*)?>([\\s\\S]*?)</${t}\\s*>`).exec(element);
  return m ? unescapeXml(m[1] ?? '') : undefined;
}

/** `xml` with the element cut out, together with the whitespace that indented it. */
export function removeElement(xml: string, el: XmlElement): string {
  let start = el.start;
  while (start > 0 && (xml[start - 1] === ' ' || xml[start - 1] === '\t')) start--;
  let end = el.end;
  if (xml[end] === '\n') end++;
  return xml.slice(0, start) + xml.slice(end);
}

/** `xml` with `fragment` inserted just before the closing `</tag>` of the first `tag` element. */
export function insertBeforeClose(xml: string, tag: string, fragment: string): string {
  const close = `</${tag}>`;
  const at = xml.indexOf(close);
  if (at < 0) throw new TypeError(`document has no </${tag}>`);
  return `${xml.slice(0, at)}${fragment}\n  ${xml.slice(at)}`;
}
