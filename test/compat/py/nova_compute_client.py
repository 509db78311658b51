#!/usr/bin/python3
"""Debian's real Nova (26.2.2 Zed) as a caller of a hostwall worker.

Every step goes through nova.compute.rpcapi.ComputeAPI, the client nova-api
and nova-conductor use, with [upgrade_levels]compute pinned to zed so it
needs no database to pick the version, and with real Nova objects built as
test/compat/py/nova_objects_fixture.py builds them (the shapes Zed's API and
conductor fill in), re-keyed for this run: a fresh instance uuid, DB id,
ports, volume and attachment, and the worker's host as instance.host.

build_and_run_instance takes "networks": "none" (no port) and "flavor":
{"vcpus": .., "memory_mb": ..} (a smaller flavor than the fixture's).

One JSON step per stdin line, one JSON answer per line:
  {"op": "<ComputeAPI method>", ...}   -> {"ok": true, "result": ...}
                                          or {"ok": false, "exc_class", "exc_type", "value"}
Casts answer once the message is published; calls with what the worker
replied, as Nova's caller reads it (a BDM object's fields, a VIF dict, a str).

Env: AMQP_URL, NOVA_HOST (the worker's host), and the ids: INSTANCE_UUID,
INSTANCE_ID, PORT_ID, PORT2_ID, NEW_PORT_ID, VOLUME_ID, ATTACHMENT_ID.
"""
import json
import os
import sys
import warnings

warnings.filterwarnings('ignore')

import nova_objects_fixture as fx  # noqa: E402

# Re-key the fixture objects for this run before anything is built (they read these globals).
for _name in ('INSTANCE_UUID', 'PORT_ID', 'PORT2_ID', 'NEW_PORT_ID', 'VOLUME_ID', 'ATTACHMENT_ID'):
    setattr(fx, _name, os.environ[_name])

from oslo_utils import timeutils  # noqa: E402

from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402
from nova.compute import rpcapi as compute_rpcapi  # noqa: E402

from nova_capture import configure, pin  # noqa: E402

HOST = os.environ['NOVA_HOST']
INSTANCE_ID = int(os.environ['INSTANCE_ID'])
REQUEST_ID = 'req-5e4f9b63-7b1f-4a58-8d4f-2c3b4d5e6f70'


def on_host(inst):
    """The instance as the API sends it once it lives on HOST (ComputeAPI routes by instance.host)."""
    inst.id = INSTANCE_ID
    inst.host = HOST
    inst.node = HOST
    inst.launched_on = HOST
    return inst


def connection_info(chap):
    """The fixtures' iSCSI connection_info; with chap=False, the same target without CHAP."""
    info = json.loads(fx.connection_info_json())
    if not chap:
        for key in ('auth_method', 'auth_username', 'auth_password'):
            info['data'].pop(key)
    return json.dumps(info)


def bdm_primitive_fields(obj):
    return {k: getattr(obj, k) for k in ('device_name', 'volume_id', 'instance_uuid', 'source_type',
                                         'destination_type', 'disk_bus', 'device_type', 'tag')
            if obj.obj_attr_is_set(k)}


class Steps:
    def __init__(self, api, ctx):
        self.api = api
        self.ctx = ctx
        self.o = fx.build_objects(ctx)
        self.inst = on_host(fx.instance(ctx))

    def build_and_run_instance(self, step):
        o = self.o
        volume = step.get('boot_volume', False)
        inst = fx.bfv_instance(self.ctx) if volume else fx.instance(self.ctx, building=True)
        inst.id = INSTANCE_ID
        # A smaller flavor (e.g. for a real guest under TCG): the instance's flavor and its legacy copies.
        for key, value in step.get('flavor', {}).items():
            setattr(inst.flavor, key, value)
            setattr(inst, key, value)
        networks = o['requested_networks'] if step.get('networks', 'port') == 'port' else \
            objects.NetworkRequestList(objects=[objects.NetworkRequest(network_id='none')])
        self.api.build_and_run_instance(
            self.ctx, inst, HOST, o['bfv_image'] if volume else o['image'],
            o['bfv_request_spec'] if volume else o['request_spec'], o['filter_properties'],
            admin_password=None, injected_files=[], requested_networks=networks, security_groups=['default'],
            block_device_mapping=o['bfv_bdms'] if volume else o['build_bdms'], node=HOST,
            limits=o['limits'], host_list=[], accel_uuids=[])

    def terminate_instance(self, step):
        self.api.terminate_instance(self.ctx, self.inst, self.o['bdms'])

    def stop_instance(self, step):
        return self.api.stop_instance(self.ctx, self.inst, do_cast=step.get('do_cast', True),
                                      clean_shutdown=step.get('clean_shutdown', True))

    def start_instance(self, step):
        self.api.start_instance(self.ctx, self.inst)

    def reboot_instance(self, step):
        self.api.reboot_instance(self.ctx, self.inst, None, step['reboot_type'])

    def pause_instance(self, step):
        self.api.pause_instance(self.ctx, self.inst)

    def unpause_instance(self, step):
        self.api.unpause_instance(self.ctx, self.inst)

    def suspend_instance(self, step):
        self.api.suspend_instance(self.ctx, self.inst)

    def resume_instance(self, step):
        self.api.resume_instance(self.ctx, self.inst)

    def reserve_block_device_name(self, step):
        bdm = self.api.reserve_block_device_name(
            self.ctx, self.inst, step.get('device'), step.get('volume_id', fx.VOLUME_ID),
            disk_bus=step.get('disk_bus'), device_type=step.get('device_type'), tag=step.get('tag'),
            multiattach=False)
        return {'class': type(bdm).__name__, 'version': bdm.VERSION, **bdm_primitive_fields(bdm)}

    def attach_volume(self, step):
        # What compute/api.py _attach_volume casts: the reserved BDM with the Cinder attachment id;
        # Zed leaves connection_info None (nova-compute asks Cinder), the variants carry one.
        info = step.get('connection_info')
        bdm = fx.volume_bdm(self.ctx, with_info=False)
        bdm.device_name = step['device_name']
        if info:
            bdm.connection_info = connection_info(chap=info == 'chap')
        self.api.attach_volume(self.ctx, self.inst, bdm)

    def detach_volume(self, step):
        self.api.detach_volume(self.ctx, self.inst, fx.VOLUME_ID, attachment_id=fx.ATTACHMENT_ID)

    def attach_interface(self, step):
        return self.api.attach_interface(self.ctx, self.inst, None, step['port_id'], None, tag=None)

    def detach_interface(self, step):
        self.api.detach_interface(self.ctx, self.inst, step['port_id'])

    def external_instance_event(self, step):
        events = [fx.event(self.ctx, e['name'], e['tag'], e.get('status', 'completed')) for e in step['events']]
        self.api.external_instance_event(self.ctx, [self.inst], events)

    def get_console_output(self, step):
        return self.api.get_console_output(self.ctx, self.inst, step.get('tail_length'))

    def get_host_uptime(self, step):
        return self.api.get_host_uptime(self.ctx, HOST)

    # Methods hostwall does not serve: a cast and a call, to show how each is refused.
    def rescue_instance(self, step):
        self.api.rescue_instance(self.ctx, self.inst, 'rescue-pass', rescue_image_ref=fx.IMAGE_ID, clean_shutdown=True)

    def get_vnc_console(self, step):
        return self.api.get_vnc_console(self.ctx, self.inst, 'novnc')


def main():
    configure()
    pin('zed')
    ctx = nova_context.RequestContext(
        user_id=fx.USER_ID, project_id=fx.PROJECT_ID, user_name='demo', project_name='demo',
        roles=['member', 'reader'], is_admin=False, request_id=REQUEST_ID, global_request_id=None,
        timestamp=timeutils.utcnow(), auth_token='SECRET-TOKEN', remote_address='192.0.2.10',
        user_domain_id='default', project_domain_id='default')
    steps = Steps(compute_rpcapi.ComputeAPI(), ctx)
    print(json.dumps({'ready': True, 'request_id': REQUEST_ID}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        step = json.loads(line)
        try:
            out = {'ok': True, 'result': getattr(steps, step['op'])(step)}
        except Exception as e:  # noqa: BLE001 - we report whatever Nova's client raised
            out = {'ok': False, 'exc_class': type(e).__name__, 'exc_type': getattr(e, 'exc_type', None),
                   'value': getattr(e, 'value', None), 'str': str(e)[:2000]}
        print(json.dumps(out, default=str), flush=True)


if __name__ == '__main__':
    main()
