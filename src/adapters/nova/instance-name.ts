/**
 * The guest name Nova would give an instance: `Instance.name`, a property
 * (not a field, so never on the wire) computed from
 * CONF.instance_name_template, default "instance-%08x" of the DB id.
 *
 * Supported template forms, the ones Nova's docs show: one of %d / %x / %0Nx /
 * %0Nd / %s applied to the id, or named fields like "%(uuid)s" /
 * "%(hostname)s". Like Nova (objects/instance.py `name`), a template that cannot
 * be filled falls back to the uuid.
 */
import type { Instance } from './objects';

export const DEFAULT_INSTANCE_NAME_TEMPLATE = 'instance-%08x';

function formatId(spec: string, id: number): string | undefined {
  const m = /^%(0?)(\d*)([dxs])$/.exec(spec);
  if (!m) return undefined;
  const text = m[3] === 'x' ? id.toString(16) : String(id);
  const width = m[2] ? Number(m[2]) : 0;
  return text.padStart(width, m[1] === '0' ? '0' : ' ');
}

export function instanceName(instance: Instance, template: string = DEFAULT_INSTANCE_NAME_TEMPLATE): string {
  const data = instance.data;
  const named = /%\(([a-z_]+)\)s/g;
  if (named.test(template)) {
    let missing = false;
    const name = template.replace(named, (_whole, key: string) => {
      const value = (data as Record<string, unknown>)[key];
      if (value === undefined || value === null) missing = true;
      return String(value);
    });
    return missing ? data.uuid : name;
  }
  const spec = /%0?\d*[dxs]/.exec(template);
  if (!spec || data.id === undefined) return data.uuid;
  const id = formatId(spec[0], data.id);
  return id === undefined ? data.uuid : template.replace(spec[0], id);
}
