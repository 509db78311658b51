/**
 * Text taken from messages, made safe to print on an operator's terminal
 * (issue 15: `events`, `inspect`, `replay --dry-run` and the pretty log wrote
 * escape sequences and forged rows that came from message fields).
 *
 * Every character a terminal acts on instead of showing is written as an
 * escape: C0 controls (newline, carriage return, ESC...), DEL, C1 controls
 * (U+0080-U+009F; some terminals take U+009B as CSI), and the Unicode format
 * characters that reorder or break a line (bidi marks, embeddings, overrides
 * and isolates; the line and paragraph separators). Each is spelt as JSON
 * spells it (`\n`, `\r`, `\t`, else `\uXXXX`), so a printed line stays one
 * line, shows what was sent, and escaped JSON is still the same JSON.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find control characters
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` with every terminal control character escaped (see the file header). */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
