/**
 * The settings of config.ts written out for people, from the one table so
 * that nothing drifts: the README's configuration table (checked by
 * test/unit/config-docs.test.ts) and `hostwall config sample`, a commented
 * INI file in oslo-config-generator's layout (help wrapped at 70 columns,
 * the type in brackets, bounds and choices, every option commented out at
 * its default).
 */
import { z } from 'zod';
import { iniKey, kebab, SETTINGS, type SettingName } from './config';

interface Shape {
  type: 'string' | 'integer' | 'boolean' | 'JSON object';
  choices?: readonly string[];
  min?: number;
  max?: number;
}

/** What a setting's schema takes: the type oslo would name, its bounds or choices. */
function shapeOf(schema: z.ZodType, def: unknown): Shape {
  if (schema instanceof z.ZodEnum) return { type: 'string', choices: schema.options.map(String) };
  if (schema instanceof z.ZodNumber) return { type: 'integer', ...(schema.minValue !== null ? { min: schema.minValue } : {}), ...(schema.maxValue !== null ? { max: schema.maxValue } : {}) };
  if (schema instanceof z.ZodPipe) return shapeOf(schema.out as z.ZodType, def);
  if (schema instanceof z.ZodUnion) {
    // '' | something: "off" spelt as an empty string; the something says the rest.
    const rest = (schema.options as z.ZodType[]).filter((o) => !(o instanceof z.ZodLiteral));
    if (rest.length === 1 && rest[0]) return shapeOf(rest[0], def);
  }
  if (typeof def === 'boolean') return { type: 'boolean' };
  if (typeof def === 'number') return { type: 'integer' };
  if (typeof def === 'object') return { type: 'JSON object' };
  return { type: 'string' };
}

const names = (): SettingName[] => Object.keys(SETTINGS) as SettingName[];

/** The default as written in docs: `docDefault`, else the value itself. */
function defaultText(name: SettingName): string {
  const s = SETTINGS[name];
  if ('docDefault' in s) return s.docDefault;
  return typeof s.default === 'string' ? s.default : JSON.stringify(s.default);
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');
const prose = (text: string): string => cell(text).replace(/</g, '\\<');

/** The README's table: one row per setting, the same name as a flag, an environment variable and an INI key. */
export function configTable(): string {
  const rows = names().map((n) => {
    const s = SETTINGS[n];
    const d = defaultText(n);
    const reload = 'reload' in s && s.reload ? ' Reloaded on SIGHUP.' : '';
    const alias = 'envAlias' in s ? ` (or \`${s.envAlias}\`, its older name)` : '';
    return `| \`--${kebab(n)}\` | \`${s.env}\`${alias} | \`${iniKey(n)}\` | ${d === '' ? '""' : `\`${cell(d)}\``} | ${prose(s.help)}.${reload} |`;
  });
  return ['| flag | environment | INI key (`[hostwall]`) | default | what it is (and costs) |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** Wrap text into "# "-prefixed lines of at most `width` columns. */
function comment(text: string, width = 70): string[] {
  const out: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line.length + 1 + word.length > width && line !== '#') {
      out.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  if (line !== '#') out.push(line);
  return out;
}

/** `hostwall config sample`: every setting in [hostwall], commented out at its default. */
export function configSample(): string {
  const lines = [
    '# hostwall configuration (INI, read as oslo.config reads it).',
    '#',
    '# Read from /etc/hostwall/hostwall.conf when it exists and no',
    '# --config-file or --config-dir is given. Precedence: flags, then the',
    '# environment, then the files, then the defaults. A compute node\'s',
    '# nova-compute.conf works too: its [DEFAULT], [placement],',
    '# [oslo_messaging_rabbit] ... keys are read as nova-compute reads them',
    '# (README "Replacing nova-compute on a host"); hostwall\'s own settings',
    '# go in [hostwall]. Generated from src/config.ts.',
    '',
    '[DEFAULT]',
    '',
    '',
    '[hostwall]',
    '',
    '#',
    '# From hostwall',
    '#',
  ];
  for (const n of names()) {
    const s = SETTINGS[n];
    const shape = shapeOf(s.schema as z.ZodType, s.default);
    lines.push('', ...comment(`${s.help} (${shape.type} value)`));
    if (shape.min !== undefined) lines.push(`# Minimum value: ${shape.min}`);
    if (shape.max !== undefined) lines.push(`# Maximum value: ${shape.max}`);
    if (shape.choices) lines.push('# Possible values:', ...shape.choices.map((c) => `# ${c}`));
    if ('reload' in s && s.reload) lines.push('# Reloaded on SIGHUP.');
    lines.push(`# Also: --${kebab(n)}, ${s.env}`);
    lines.push(`#${iniKey(n)} = ${defaultText(n)}`);
  }
  return `${lines.join('\n')}\n`;
}
