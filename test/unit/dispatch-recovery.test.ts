import { expect } from 'chai';
import { decide } from '../../src/dispatch/recovery';
import type { GuestState } from '../../src/drivers/driver';
import type { PowerState } from '../../src/intents';

const g = (power_state: PowerState): GuestState => ({ instance_uuid: 'u', name: 'n', power_state });

describe('dispatch: reconciling an interrupted intent against the real state', () => {
  it('finishes an intent whose target state the guest is already in', () => {
    expect(decide('instance.pause', g('paused'))).to.equal('succeeded');
    expect(decide('instance.power_off', g('shutdown'))).to.equal('succeeded');
    expect(decide('instance.spawn', g('running'))).to.equal('succeeded');
    expect(decide('instance.destroy', undefined)).to.equal('succeeded');
    expect(decide('instance.reboot', g('running'))).to.equal('succeeded');
  });

  it('retries what is safe to run again from where the guest is', () => {
    expect(decide('instance.pause', g('running'))).to.equal('retry');
    expect(decide('instance.spawn', undefined)).to.equal('retry');
    expect(decide('instance.destroy', g('running'))).to.equal('retry');
    expect(decide('port.plug', g('running'))).to.equal('retry');
    expect(decide('volume.detach', g('shutdown'))).to.equal('retry');
    expect(decide('port.ready', undefined)).to.equal('retry');
  });

  it('fails what is not safe to repeat', () => {
    expect(decide('instance.spawn', g('paused'))).to.equal('failed');
    expect(decide('instance.pause', g('shutdown'))).to.equal('failed');
    expect(decide('instance.unpause', g('suspended'))).to.equal('failed');
    expect(decide('no.such.kind', undefined)).to.equal('failed');
  });
});
