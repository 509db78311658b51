#!/usr/bin/python3
"""Capture what Debian's real Nova (26.2.2 Zed) puts on the wire for each
compute RPC method hostwall's Nova adapter translates.

It builds real Nova objects (objects.Instance with a Flavor, a
BlockDeviceMappingList, a NetworkRequestList, InstanceExternalEvents, a
RequestSpec) and sends them through nova.compute.rpcapi.ComputeAPI, the very
client nova-api and nova-conductor use, with [upgrade_levels]compute pinned so
no database is needed to pick the version. A kombu consumer bound to
`compute.<host>` on exchange `nova` takes each message off the broker and, for
calls, answers with `result: null` at once, so no call waits for a timeout.

Each captured message is printed as one JSON line:
  {"name": "<method>[.<variant>]", "pin": ..., "call": bool, "exchange": ...,
   "routing_key": ..., "expiration": ..., "message": {<inner oslo.message>}}
then a final {"done": true, "count": n}. Nothing is normalised here; the
TypeScript side (test/compat/nova-capture.test.ts) does that.

Environment: AMQP_URL (a vhost of its own, e.g. amqp://guest:guest@127.0.0.1:5672/hw-nova-capture),
NOVA_HOST (the compute host name; default hostwall-capture-1).
"""
import json
import os
import queue
import sys
import tempfile
import threading
import uuid as uuidlib
import warnings

warnings.filterwarnings('ignore')

import kombu  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_utils import timeutils  # noqa: E402

import nova.conf  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402
from nova import rpc  # noqa: E402
from nova.compute import rpcapi as compute_rpcapi  # noqa: E402

from nova_objects_fixture import build_objects  # noqa: E402

CONF = nova.conf.CONF
AMQP_URL = os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672/')
HOST = os.environ.get('NOVA_HOST', 'hostwall-capture-1')
EXCHANGE = 'nova'
WAIT_S = 10


def configure():
    # What nova.config.parse_args does first: Nova's control exchange as the
    # default of oslo.messaging's transport options. The transport options are
    # registered lazily by oslo, so the URL goes in through a config file, as
    # an operator's nova.conf would carry it.
    rpc.set_defaults(control_exchange=EXCHANGE)
    with tempfile.NamedTemporaryFile('w', suffix='.conf', delete=False) as conf_file:
        # oslo reads amqp:// as its AMQP 1.0 driver; RabbitMQ's is rabbit://.
        conf_file.write(f"[DEFAULT]\ntransport_url = rabbit://{AMQP_URL.split('://', 1)[1]}\n")
    try:
        CONF([], project='nova', default_config_files=[conf_file.name])
    finally:
        os.unlink(conf_file.name)
    objects.register_all()
    rpc.init(CONF)


def pin(level):
    """Pin the client and forget the cached router, as a service restart would."""
    CONF.set_override('compute', level, group='upgrade_levels')
    compute_rpcapi._ROUTER = None
    compute_rpcapi.LAST_VERSION = None


class Capture:
    """A consumer on its own connection, bound before anything is sent."""

    def __init__(self):
        self.conn = kombu.Connection(AMQP_URL)
        self.channel = self.conn.channel()
        # oslo declares the control exchange as a non-durable topic exchange.
        exchange = kombu.Exchange(EXCHANGE, type='topic', durable=False, auto_delete=False)
        self.queue = kombu.Queue('hostwall-nova-capture', exchange, routing_key=f'compute.{HOST}',
                                 channel=self.channel, exclusive=True, durable=False)
        self.queue.declare()
        self.got = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        with kombu.Consumer(self.channel, queues=[self.queue], callbacks=[self.on_message], accept=None):
            while not self.stop.is_set():
                try:
                    self.conn.drain_events(timeout=0.2)
                except TimeoutError:
                    continue
                except OSError:
                    # socket.timeout is an OSError subclass in Python 3.10+
                    continue

    def on_message(self, body, message):
        raw = message.body if isinstance(message.body, str) else message.body.decode('utf-8')
        envelope = json.loads(raw)
        inner = json.loads(envelope['oslo.message'])
        info = message.delivery_info
        props = message.properties
        self.got.put({'exchange': info.get('exchange'), 'routing_key': info.get('routing_key'),
                      'expiration': props.get('expiration'), 'oslo.version': envelope.get('oslo.version'),
                      'message': inner})
        if inner.get('_reply_q'):
            reply = {'result': None, 'failure': None, 'ending': True,
                     '_msg_id': inner['_msg_id'], '_unique_id': uuidlib.uuid4().hex}
            producer = kombu.Producer(self.channel)
            producer.publish(json.dumps({'oslo.version': '2.0', 'oslo.message': json.dumps(reply)}),
                             exchange='', routing_key=inner['_reply_q'], content_type='application/json')
        message.ack()

    def take(self):
        return self.got.get(timeout=WAIT_S)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.conn.release()


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + '\n')
    sys.stdout.flush()


def sends(api, ctx, o):
    """(name, is_call, thunk) for every method and argument shape the adapter handles."""
    inst, build_inst = o['instance'], o['build_instance']
    yield 'build_and_run_instance', False, lambda: api.build_and_run_instance(
        ctx, build_inst, HOST, o['image'], o['request_spec'], o['filter_properties'],
        admin_password='s3cret-admin', injected_files=[], requested_networks=o['requested_networks'],
        security_groups=['default'], block_device_mapping=o['build_bdms'], node=o['node'],
        limits=o['limits'], host_list=o['host_list'], accel_uuids=[])
    yield 'build_and_run_instance.volume', False, lambda: api.build_and_run_instance(
        ctx, o['bfv_instance'], HOST, o['bfv_image'], o['bfv_request_spec'], o['filter_properties'],
        admin_password=None, injected_files=[], requested_networks=o['requested_networks'],
        security_groups=['default'], block_device_mapping=o['bfv_bdms'], node=o['node'],
        limits=o['limits'], host_list=[], accel_uuids=[])
    yield 'terminate_instance', False, lambda: api.terminate_instance(ctx, inst, o['bdms'])
    yield 'stop_instance', False, lambda: api.stop_instance(ctx, inst, clean_shutdown=True)
    yield 'stop_instance.call', True, lambda: api.stop_instance(ctx, inst, do_cast=False, clean_shutdown=False)
    yield 'start_instance', False, lambda: api.start_instance(ctx, inst)
    yield 'reboot_instance', False, lambda: api.reboot_instance(ctx, inst, None, 'SOFT')
    yield 'reboot_instance.hard', False, lambda: api.reboot_instance(ctx, inst, None, 'HARD')
    for m in ('pause_instance', 'unpause_instance', 'suspend_instance', 'resume_instance'):
        yield m, False, (lambda m=m: getattr(api, m)(ctx, inst))
    yield 'attach_volume', False, lambda: api.attach_volume(ctx, inst, o['attach_bdm'])
    yield 'attach_volume.connection_info', False, lambda: api.attach_volume(ctx, inst, o['attach_bdm_with_info'])
    yield 'detach_volume', False, lambda: api.detach_volume(
        ctx, inst, o['volume_id'], attachment_id=o['attachment_id'])
    yield 'reserve_block_device_name', True, lambda: api.reserve_block_device_name(
        ctx, inst, None, o['volume_id'], disk_bus=None, device_type=None, tag=None, multiattach=False)
    yield 'reserve_block_device_name.device', True, lambda: api.reserve_block_device_name(
        ctx, inst, '/dev/vdc', o['volume_id'], disk_bus='virtio', device_type='disk', tag='data', multiattach=False)
    yield 'attach_interface', True, lambda: api.attach_interface(
        ctx, inst, None, o['new_port_id'], None, tag=None)
    yield 'attach_interface.network', True, lambda: api.attach_interface(
        ctx, inst, o['network_id'], None, '10.0.0.23', tag='mgmt')
    yield 'detach_interface', False, lambda: api.detach_interface(ctx, inst, o['port_id'])
    for variant, events in o['events'].items():
        name = 'external_instance_event' + ('' if variant == 'default' else '.' + variant)
        yield name, False, (lambda events=events: api.external_instance_event(ctx, [inst], events))
    yield 'get_console_output', True, lambda: api.get_console_output(ctx, inst, 50)
    yield 'get_host_uptime', True, lambda: api.get_host_uptime(ctx, HOST)
    # Not served by hostwall yet: its fixture proves the NoSuchMethod path.
    yield 'rescue_instance', False, lambda: api.rescue_instance(
        ctx, inst, 'rescue-pass', rescue_image_ref=o['image_id'], clean_shutdown=True)


# Each pin: what a Zed client sends (6.0), and the 5.x forms of a client
# pinned during a rolling upgrade from Victoria (5.12) or Train (5.3).
PINS = {'zed': None, 'victoria': None, 'train': {'build_and_run_instance'}}


def main():
    configure()
    ctx = nova_context.RequestContext(
        user_id='6d2ac6f9c3ce4b8ab0fbc1e1d0e2c0a1', project_id='0f4c2c4cbb8c4d5e9b8d6c7a5e4f3a21',
        user_name='demo', project_name='demo', roles=['member', 'reader'], is_admin=False,
        request_id='req-4d3f8a52-6a0e-4f47-9c3e-1b2a3c4d5e6f', global_request_id=None,
        timestamp=timeutils.parse_isotime('2024-05-01T12:00:00.000000'), auth_token='SECRET-TOKEN',
        remote_address='192.0.2.10', user_domain_id='default', project_domain_id='default')
    o = build_objects(ctx)
    cap = Capture()
    count = 0
    try:
        for level, only in PINS.items():
            pin(level)
            api = compute_rpcapi.ComputeAPI()
            for name, is_call, send in sends(api, ctx, o):
                if only is not None and name not in only:
                    continue
                send()
                got = cap.take()
                got.update({'name': name, 'pin': level, 'call': is_call})
                emit(got)
                count += 1
    finally:
        cap.close()
    emit({'done': True, 'count': count})


if __name__ == '__main__':
    main()
