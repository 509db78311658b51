import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { IntentFailure, RejectedError } from '../../src/errors';
import { deserializeFailure, failureOf, RemoteError, serializeFailure } from '../../src/oslo/failure';

const PY = '/usr/bin/python3';
const CODEC = join(__dirname, '..', '..', '..', 'test', 'compat', 'py', 'oslo_codec.py');
const havePython = existsSync(PY);

function oslo(requests: Record<string, unknown>[]): Record<string, unknown>[] {
  const out = execFileSync(PY, [CODEC], { input: requests.map((r) => JSON.stringify(r)).join('\n'), encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] });
  return out.trim().split('\n').slice(1).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('oslo failure', () => {
  it('serializes a HostwallError with its oslo class/module, args [message] and kwargs {code, details}', () => {
    const err = new IntentFailure('INSTANCE_NOT_FOUND', 'Instance i-1 could not be found.', { instance_uuid: 'i-1' });
    const f = JSON.parse(serializeFailure(err)) as Record<string, unknown>;
    expect(f).to.include({ class: 'InstanceNotFound', module: 'hostwall.errors', message: 'Instance i-1 could not be found.' });
    expect(f.args).to.deep.equal(['Instance i-1 could not be found.']);
    expect(f.kwargs).to.deep.equal({ instance_uuid: 'i-1', code: 'INSTANCE_NOT_FOUND' });
    const tb = f.tb as string[];
    expect(tb[0]).to.equal('Traceback (most recent call last):\n');
    expect(tb[tb.length - 1]).to.equal('InstanceNotFound: Instance i-1 could not be found.\n');
  });

  it('names oslo_messaging.rpc.dispatcher for UnsupportedVersion and NoSuchMethod, without a JS stack for refusals', () => {
    const f = failureOf(new RejectedError('UNSUPPORTED_VERSION', 'Endpoint does not support RPC version 2.0'));
    expect(f).to.include({ class: 'UnsupportedVersion', module: 'oslo_messaging.rpc.dispatcher' });
    expect(f.tb).to.have.length(2);
    expect(failureOf(new RejectedError('UNKNOWN_KIND', 'no'))).to.include({ class: 'NoSuchMethod' });
  });

  it('turns foreign errors into INTERNAL failures and accepts the dispatcher ErrorInfo shape', () => {
    expect(failureOf(new TypeError('x is undefined'))).to.include({ class: 'InternalError', module: 'hostwall.errors', message: 'x is undefined' });
    expect(failureOf('plain string')).to.include({ message: 'plain string' });
    const info = { code: 'TIMEOUT', message: 't', osloClass: 'Timeout', osloModule: 'hostwall.errors', details: { after_s: 3 } };
    expect(failureOf(info)).to.deep.include({ class: 'Timeout', kwargs: { after_s: 3, code: 'TIMEOUT' } });
  });

  it('never publishes secret-looking detail keys in kwargs', () => {
    const err = new IntentFailure('LIBVIRT_ERROR', 'auth failed', {
      connection_info: { data: { auth_password: 'hunter2', target_iqn: 'iqn.x' } }, token: 't', nested: [{ secret: 's', ok: 1 }],
    });
    const text = serializeFailure(err);
    expect(text).not.to.contain('hunter2');
    expect(JSON.parse(text).kwargs).to.deep.equal({
      connection_info: { data: { target_iqn: 'iqn.x' } }, nested: [{ ok: 1 }], code: 'LIBVIRT_ERROR',
    });
  });

  it('decodes a real oslo failure (ValueError) into a RemoteError with class, module, traceback', () => {
    const real =
      '{"class": "ValueError", "module": "builtins", "message": "boom", "tb": ["Traceback (most recent call last):\\n", "ValueError: boom\\n"], "args": ["boom"], "kwargs": {}}';
    const e = deserializeFailure(real);
    expect(e).to.be.instanceOf(RemoteError);
    expect(e).to.include({ osloClass: 'ValueError', osloModule: 'builtins', remoteMessage: 'boom', code: undefined });
    expect(e.traceback).to.have.length(2);
  });

  it('round-trips our own failure, keeping the hostwall code', () => {
    const e = deserializeFailure(serializeFailure(new RejectedError('ISSUER_REFUSED', 'issuer cinder may not send instance.spawn')));
    expect(e).to.include({ osloClass: 'IssuerRefused', code: 'ISSUER_REFUSED' });
    expect(e.message).to.equal('IssuerRefused: issuer cinder may not send instance.spawn');
  });

  it('still yields a RemoteError for an unreadable failure string', () => {
    expect(deserializeFailure('not json')).to.include({ osloClass: 'RemoteError', remoteMessage: 'not json' });
  });

  (havePython ? describe : describe.skip)('through the real Python client code (deserialize_remote_exception)', () => {
    it('makes a Python caller raise RemoteError naming our class and message', () => {
      const ours = [
        new IntentFailure('INSTANCE_NOT_FOUND', 'Instance i-42 could not be found.', { instance_uuid: 'i-42' }),
        new RejectedError('INVALID_INTENT', 'invalid instance.spawn 1.0: name: Required'),
        new RejectedError('UNSUPPORTED_VERSION', 'Endpoint does not support RPC version 9.0'),
        new RejectedError('UNKNOWN_KIND', 'Endpoint does not support RPC method instance.fly'),
      ];
      const answers = oslo(ours.map((e) => ({ op: 'deserialize_failure', data: serializeFailure(e), allowed: [] })));
      answers.forEach((py, i) => {
        const err = ours[i];
        if (!err) throw new Error('missing case');
        expect(py.class, err.osloClass).to.equal('RemoteError');
        expect(py.module).to.equal('oslo_messaging.rpc.client');
        expect(py.exc_type).to.equal(err.osloClass);
        expect(py.value).to.equal(err.message);
        expect(String(py.str)).to.contain(`Remote error: ${err.osloClass} ${err.message}`);
      });
    });

    it('stays a named RemoteError even when the caller allows the oslo dispatcher module', () => {
      const data = serializeFailure(new RejectedError('UNSUPPORTED_VERSION', 'Endpoint does not support RPC version 9.0'));
      const [py] = oslo([{ op: 'deserialize_failure', data, allowed: ['oslo_messaging.rpc.dispatcher'] }]);
      expect(py).to.include({ class: 'RemoteError', exc_type: 'UnsupportedVersion' });
    });

    it('reads what oslo itself serializes', () => {
      const [made] = oslo([{ op: 'serialize_failure', class: 'KeyError', message: 'expected boom' }]);
      const e = deserializeFailure(String(made?.data));
      expect(e).to.include({ osloClass: 'KeyError', osloModule: 'builtins', remoteMessage: "'expected boom'" });
    });
  });
});
