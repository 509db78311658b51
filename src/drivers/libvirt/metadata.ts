/**
 * The facts hostwall keeps inside each domain's `<metadata>`, so that after a
 * worker restart (or on another worker) the guest itself says what it was
 * spawned with: flavor, image, user metadata, which port is which interface
 * and which volume is which disk, and which libvirt secrets hostwall created
 * for it (so detach and destroy can delete them). Nothing secret is stored.
 *
 * The element lives in its own namespace; libvirt keeps foreign-namespace
 * metadata verbatim across define/start/save/restore.
 */
import type { Flavor } from '../../intents';
import { attrOf, childAttr, escapeAttr, escapeText, findElement, findElements, insertBeforeClose, isXmlSafe, unescapeXml } from './xml';

export const HOSTWALL_NS = 'http://hostwall.invalid/xmlns/libvirt/instance/1.0';
/** The prefix we write; readers accept whatever prefix the document binds to HOSTWALL_NS. */
export const HOSTWALL_PREFIX = 'hostwall';

export type SecretUsageType = 'iscsi' | 'ceph';

export interface PortFact {
  port_id: string;
  vif_type: string;
  mac_address: string;
  /** Guest-side target device (tapXXXXXXXXXXX). */
  device: string;
}

export interface VolumeFact {
  volume_id: string;
  driver_volume_type: string;
  /** Guest target device (vdb...). */
  device: string;
  /** A libvirt secret hostwall created for this volume and must delete with it. */
  secret?: { usage_type: SecretUsageType; usage_id: string } | undefined;
}

export interface GuestFacts {
  flavor?: Flavor | undefined;
  image_id?: string | undefined;
  metadata: Record<string, string>;
  ports: PortFact[];
  volumes: VolumeFact[];
}

export function emptyFacts(): GuestFacts {
  return { metadata: {}, ports: [], volumes: [] };
}

function metaEntry(tag: string, key: string, value: string): string {
  // XML 1.0 cannot carry some control characters even escaped; such pairs go
  // base64 so user metadata survives the round trip exactly.
  if (isXmlSafe(key) && isXmlSafe(value)) {
    return `<${tag} key='${escapeAttr(key)}'>${escapeText(value)}</${tag}>`;
  }
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return `<${tag} encoding='base64' key='${b64(key)}'>${b64(value)}</${tag}>`;
}

/**
 * The `<hostwall:instance>` element (without the surrounding `<metadata>`).
 * `bare`: no prefix and no namespace declaration, the form
 * virDomainSetMetadata wants (it applies the namespace itself).
 */
export function factsXml(f: GuestFacts, opts: { bare?: boolean } = {}): string {
  const t = (name: string) => (opts.bare ? name : `${HOSTWALL_PREFIX}:${name}`);
  const ns = opts.bare ? '' : ` xmlns:${HOSTWALL_PREFIX}='${escapeAttr(HOSTWALL_NS)}'`;
  const lines: string[] = [`<${t('instance')}${ns}>`];
  if (f.flavor) {
    lines.push(`<${t('flavor')} vcpus='${f.flavor.vcpus}' memory_mb='${f.flavor.memory_mb}' root_gb='${f.flavor.root_gb}'/>`);
  }
  if (f.image_id !== undefined) lines.push(`<${t('image')} id='${escapeAttr(f.image_id)}'/>`);
  for (const [k, v] of Object.entries(f.metadata)) lines.push(metaEntry(t('meta'), k, v));
  for (const p of f.ports) {
    lines.push(
      `<${t('port')} id='${escapeAttr(p.port_id)}' vif_type='${escapeAttr(p.vif_type)}' mac='${escapeAttr(p.mac_address)}' device='${escapeAttr(p.device)}'/>`,
    );
  }
  for (const v of f.volumes) {
    const secret = v.secret
      ? ` secret_usage_type='${v.secret.usage_type}' secret_usage_id='${escapeAttr(v.secret.usage_id)}'`
      : '';
    lines.push(
      `<${t('volume')} id='${escapeAttr(v.volume_id)}' type='${escapeAttr(v.driver_volume_type)}' device='${escapeAttr(v.device)}'${secret}/>`,
    );
  }
  lines.push(`</${t('instance')}>`);
  return lines.join('\n');
}

/** The prefix the document binds to our namespace, if our element is there. */
function boundPrefix(domainXml: string): string | undefined {
  const re = /<([A-Za-z_][\w.-]*):instance\b[^>]*?\sxmlns:\1\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  for (const m of domainXml.matchAll(re)) {
    if (unescapeXml(m[2] ?? m[3] ?? '') === HOSTWALL_NS) return m[1];
  }
  return undefined;
}

function int(s: string | undefined): number {
  const n = Number(s);
  return Number.isInteger(n) ? n : 0;
}

/** Our facts from a domain XML, or undefined when the domain was not defined by hostwall. */
export function readFacts(domainXml: string): GuestFacts | undefined {
  const prefix = boundPrefix(domainXml);
  if (prefix === undefined) return undefined;
  const root = findElement(domainXml, `${prefix}:instance`);
  if (!root) return undefined;
  const x = root.text;
  const facts = emptyFacts();
  const flavor = findElement(x, `${prefix}:flavor`);
  if (flavor) {
    facts.flavor = {
      vcpus: int(attrOf(flavor.text, 'vcpus')),
      memory_mb: int(attrOf(flavor.text, 'memory_mb')),
      root_gb: int(attrOf(flavor.text, 'root_gb')),
    };
  }
  facts.image_id = childAttr(x, `${prefix}:image`, 'id');
  for (const m of findElements(x, `${prefix}:meta`)) {
    const raw = /^<[^>]*>([\s\S]*)<\/[^>]*>$/.exec(m.text)?.[1] ?? '';
    const key = attrOf(m.text, 'key') ?? '';
    const value = unescapeXml(raw);
    if (attrOf(m.text, 'encoding') === 'base64') {
      facts.metadata[Buffer.from(key, 'base64').toString('utf8')] = Buffer.from(value, 'base64').toString('utf8');
    } else {
      facts.metadata[key] = value;
    }
  }
  for (const p of findElements(x, `${prefix}:port`)) {
    facts.ports.push({
      port_id: attrOf(p.text, 'id') ?? '',
      vif_type: attrOf(p.text, 'vif_type') ?? '',
      mac_address: attrOf(p.text, 'mac') ?? '',
      device: attrOf(p.text, 'device') ?? '',
    });
  }
  for (const v of findElements(x, `${prefix}:volume`)) {
    const usageType = attrOf(v.text, 'secret_usage_type');
    const usageId = attrOf(v.text, 'secret_usage_id');
    facts.volumes.push({
      volume_id: attrOf(v.text, 'id') ?? '',
      driver_volume_type: attrOf(v.text, 'type') ?? '',
      device: attrOf(v.text, 'device') ?? '',
      secret: (usageType === 'iscsi' || usageType === 'ceph') && usageId !== undefined
        ? { usage_type: usageType, usage_id: usageId }
        : undefined,
    });
  }
  return facts;
}

/** `domainXml` with our facts element replaced (or added), for a redefine. */
export function withFacts(domainXml: string, f: GuestFacts): string {
  const element = factsXml(f);
  const prefix = boundPrefix(domainXml);
  const existing = prefix === undefined ? undefined : findElement(domainXml, `${prefix}:instance`);
  if (existing) return domainXml.slice(0, existing.start) + element + domainXml.slice(existing.end);
  if (findElement(domainXml, 'metadata')) {
    if (/<metadata\s*\/>/.test(domainXml)) return domainXml.replace(/<metadata\s*\/>/, `<metadata>\n${element}\n</metadata>`);
    return insertBeforeClose(domainXml, 'metadata', element);
  }
  const at = domainXml.indexOf('</uuid>');
  if (at < 0) throw new TypeError('domain XML has no <uuid>');
  const cut = at + '</uuid>'.length;
  return `${domainXml.slice(0, cut)}\n  <metadata>\n${element}\n  </metadata>${domainXml.slice(cut)}`;
}
