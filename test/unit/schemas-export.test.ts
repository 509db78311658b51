import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intentAccepted } from '../../src/events/native';
import { EVENT_NAMES } from '../../src/events/schemas';
import { REGISTRY } from '../../src/intents';
import { expectedFiles, exportSchemas } from '../../src/schemas-export/export';

const PYTHON = '/usr/bin/python3';

/** Validate instances with Debian's python3-jsonschema (Draft 2020-12); undefined when it is not installed. */
function pyValidate(schema: unknown, instances: unknown[]): boolean[] | undefined {
  const script = [
    'import json, sys',
    'try:',
    '    from jsonschema import Draft202012Validator',
    'except ImportError:',
    '    print("null"); sys.exit(0)',
    'req = json.load(sys.stdin)',
    'Draft202012Validator.check_schema(req["schema"])',
    'v = Draft202012Validator(req["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER)',
    'print(json.dumps([v.is_valid(i) for i in req["instances"]]))',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify({ schema, instances }), encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`python jsonschema: ${r.stderr}`);
  }
  const parsed = JSON.parse(r.stdout) as boolean[] | null;
  return parsed ?? undefined;
}

describe('schema export', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostwall-schemas-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lays out every intent version, reply and event, plus index.json', () => {
    const files = [...expectedFiles().keys()];
    for (const [kind, def] of REGISTRY) {
      for (const v of def.versions) {
        expect(files).to.include(`${kind}/${v.major}.${v.minor}.json`);
        expect(files).to.include(`replies/${kind}/${v.major}.${v.minor}.json`);
      }
    }
    for (const e of EVENT_NAMES) expect(files).to.include(`events/${e}/1.0.json`);
    expect(files).to.include('index.json');
    const index = JSON.parse(expectedFiles().get('index.json') ?? '{}') as { intents: unknown[]; replies: unknown[]; events: unknown[] };
    expect(index.intents).to.have.length([...REGISTRY.values()].reduce((n, d) => n + d.versions.length, 0));
    expect(index.events).to.have.length(EVENT_NAMES.length);
    expect(index.intents[0]).to.have.keys('kind', 'version', 'path', '$id');
  });

  it('heads each document with $schema (2020-12), $id, title, description, and ends it with a newline', () => {
    for (const [path, text] of expectedFiles()) {
      expect(text.endsWith('}\n'), path).to.equal(true);
      if (path === 'index.json') continue;
      const doc = JSON.parse(text) as Record<string, unknown>;
      expect(Object.keys(doc).slice(0, 4), path).to.deep.equal(['$schema', '$id', 'title', 'description']);
      expect(doc.$schema).to.equal('https://json-schema.org/draft/2020-12/schema');
    }
    const spawn = JSON.parse(expectedFiles().get('instance.spawn/1.0.json') ?? '{}') as Record<string, unknown>;
    expect(spawn.$id).to.equal('urn:hostwall:schemas:instance.spawn:1.0');
  });

  it('is deterministic: two exports give the same bytes', async () => {
    const a = expectedFiles();
    const b = expectedFiles();
    expect([...a.entries()]).to.deep.equal([...b.entries()]);
    await exportSchemas(dir, { check: false });
    const again = await mkdtemp(join(tmpdir(), 'hostwall-schemas-'));
    try {
      await exportSchemas(again, { check: false });
      for (const path of a.keys()) {
        expect(await readFile(join(dir, path), 'utf8')).to.equal(await readFile(join(again, path), 'utf8'));
      }
    } finally {
      await rm(again, { recursive: true, force: true });
    }
  });

  it('check mode writes nothing and reports missing, stale and extra files', async () => {
    const fresh = await exportSchemas(dir, { check: true });
    expect(fresh.missing).to.have.length(expectedFiles().size);
    expect((await exportSchemas(dir, { check: true })).written).to.have.length(expectedFiles().size);

    const written = await exportSchemas(dir, { check: false });
    expect(written.stale).to.have.length(expectedFiles().size);
    expect((await exportSchemas(dir, { check: true })).stale).to.deep.equal([]);

    await writeFile(join(dir, 'instance.pause/1.0.json'), '{}\n');
    await writeFile(join(dir, 'events/intent.accepted/0.9.json'), '{}\n');
    const checked = await exportSchemas(dir, { check: true });
    expect(checked.stale).to.deep.equal(['events/intent.accepted/0.9.json', 'instance.pause/1.0.json']);
    expect(checked.extra).to.deep.equal(['events/intent.accepted/0.9.json']);
    expect(await readFile(join(dir, 'instance.pause/1.0.json'), 'utf8')).to.equal('{}\n');

    await exportSchemas(dir, { check: false });
    expect((await exportSchemas(dir, { check: true })).stale).to.deep.equal([]);
  });

  it('intents are described as senders write them: defaulted fields are optional', () => {
    const powerOff = JSON.parse(expectedFiles().get('instance.power_off/1.0.json') ?? '{}') as { required: string[]; properties: Record<string, { default?: unknown }> };
    expect(powerOff.required).to.deep.equal(['instance_uuid']);
    expect(powerOff.properties.clean?.default).to.equal(true);
  });

  it('the exported JSON Schema accepts a good intent and event and refuses bad ones (python3-jsonschema)', function () {
    const files = expectedFiles();
    const spawn = JSON.parse(files.get('instance.spawn/1.0.json') ?? '{}') as unknown;
    const good = { instance_uuid: '178b0921-8f85-4257-88b6-2e743b5a975c', name: 'vm1', flavor: { vcpus: 1, memory_mb: 128, root_gb: 1 } };
    const result = pyValidate(spawn, [good, { ...good, surprise: true }, { ...good, flavor: { vcpus: 0, memory_mb: 1, root_gb: 1 } }, { name: 'vm1' }]);
    if (result === undefined) this.skip();
    expect(result).to.deep.equal([true, false, false, false]);

    const accepted = JSON.parse(files.get('events/intent.accepted/1.0.json') ?? '{}') as unknown;
    const event = intentAccepted('instance.spawn', { intent_id: 'i', request_id: undefined, global_request_id: undefined, user_id: undefined, project_id: undefined, issuer: undefined }, good.instance_uuid, { host: 'h1' });
    expect(pyValidate(accepted, [event, { ...event, at: 'yesterday' }, { ...event, host: '' }])).to.deep.equal([true, false, false]);
  });
});
