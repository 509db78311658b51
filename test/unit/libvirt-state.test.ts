/**
 * Pure mappings of the libvirt driver: libvirt domain states to Nova power
 * states, and libvirt errors to typed failures.
 */
import { expect } from 'chai';
import { IntentFailure, LibvirtError } from '../../src/errors';
import { toLibvirtError } from '../../src/drivers/libvirt/connection';
import { DomainState } from '../../src/drivers/libvirt/ffi';
import { powerStateOf } from '../../src/drivers/libvirt/guest-state';

describe('libvirt power state mapping', () => {
  it("maps every virDomainState as Nova's libvirt driver does", () => {
    expect(powerStateOf(DomainState.NOSTATE)).to.equal('pending');
    expect(powerStateOf(DomainState.RUNNING)).to.equal('running');
    expect(powerStateOf(DomainState.BLOCKED)).to.equal('running');
    expect(powerStateOf(DomainState.PAUSED)).to.equal('paused');
    expect(powerStateOf(DomainState.SHUTDOWN)).to.equal('shutdown');
    expect(powerStateOf(DomainState.SHUTOFF)).to.equal('shutdown');
    expect(powerStateOf(DomainState.CRASHED)).to.equal('crashed');
    expect(powerStateOf(DomainState.PMSUSPENDED)).to.equal('suspended');
    expect(powerStateOf(42)).to.equal('pending');
  });

  it('reports a shut-off guest with a managed save image as suspended', () => {
    expect(powerStateOf(DomainState.SHUTOFF, true)).to.equal('suspended');
    expect(powerStateOf(DomainState.RUNNING, true)).to.equal('running');
  });
});

describe('libvirt error mapping', () => {
  const cases: [number, string][] = [
    [42, 'INSTANCE_NOT_FOUND'],
    [55, 'INVALID_STATE'],
    [3, 'NOT_SUPPORTED'],
    [9, 'LIBVIRT_ERROR'],
    [38, 'LIBVIRT_ERROR'],
  ];
  for (const [libvirtCode, code] of cases) {
    it(`libvirt error ${libvirtCode} becomes ${code}, with libvirt's code, domain and message`, () => {
      const err = toLibvirtError('virDomainCreate', { code: libvirtCode, domain: 10, message: `message ${libvirtCode}` });
      expect(err).to.be.instanceOf(LibvirtError).and.instanceOf(IntentFailure);
      expect(err.code).to.equal(code);
      expect(err.libvirtCode).to.equal(libvirtCode);
      expect(err.libvirtDomain).to.equal(10);
      expect(err.message).to.equal(`message ${libvirtCode}`);
      expect(err.details).to.deep.include({ libvirt_code: libvirtCode, libvirt_domain: 10, libvirt_call: 'virDomainCreate' });
    });
  }

  it('still fails typed when libvirt recorded no error', () => {
    const err = toLibvirtError('virDomainCreate', undefined);
    expect(err.code).to.equal('LIBVIRT_ERROR');
    expect(err.message).to.match(/virDomainCreate/);
  });
});
