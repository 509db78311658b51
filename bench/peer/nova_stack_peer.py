#!/usr/bin/python3
"""The peer of `npm run bench` (issue 16): hostwall's contract done by the
stack nova-compute runs today, from Debian's packages.

Run with Debian's /usr/bin/python3 (oslo.messaging 14, libvirt-python 9,
nova 26), never a python3 of PATH's. Per cast it does what nova-compute's
stack does for a power action, with hostwall's event contract:

- oslo.messaging's RPC server, threading executor (executor_thread_pool_size
  64 as oslo's default), on a topic of its own on the run's control exchange,
  prefetch as the worker's; it acks a cast before dispatching it, as oslo's
  RPC server does;
- the context becomes an oslo.context RequestContext (nova's serializer does
  the same with nova's subclass);
- intent.accepted as a notification, then under nova-compute's per-instance
  lock (nova.utils.synchronized(instance_uuid): oslo.concurrency's internal
  lock named by the uuid, prefix "nova-") the Nova action notification
  .start, the libvirt calls hostwall's driver makes for the action
  (libvirt-python on the test hypervisor test:///default, domains defined
  from the same instance uuids, one shared connection as nova's Host keeps),
  the action's .end, instance.state; then intent.succeeded (or
  intent.failed). Five notifications per cast, each one a confirmed publish
  (oslo's rabbit driver sets kombu's confirm_publish), through oslo's
  Notifier (driver messagingv2) on a notification transport, as nova sends
  them.
- one INFO line per cast in its log file (nova-compute logs each action).

The notifications' payloads are the ones hostwall published in the same run
(captured by the bench, ids replaced per cast), so the broker carries the
same bytes of payload; oslo adds its envelope and the context to each.

The intent id is the cast's request id (oslo's RPC server keeps
`_unique_id` to itself): the bench sends the peer's casts with
request_id = intent id and waits for each one's intent.succeeded.

Argument: one JSON object (see PeerSpec in bench/run.ts). Protocol: JSON
lines on stdout ({"type": "ready"}, {"type": "consuming"}, {"type":
"stopped", ...}); commands on stdin: {"cmd": "go"} starts the RPC server,
{"cmd": "stop"} stops it and exits.
"""
import json
import logging
import os
import sys
import tempfile
import threading
import time
import urllib.parse

import libvirt
from oslo_config import cfg
from oslo_context import context as oslo_context
import oslo_messaging

try:
    # nova-compute's own lock decorator (nova/utils.py):
    # lockutils.synchronized_with_prefix('nova-').
    from nova.utils import synchronized
except Exception:  # pragma: no cover - only if python3-nova is missing
    from oslo_concurrency import lockutils
    synchronized = lockutils.synchronized_with_prefix('nova-')

LOG = logging.getLogger('hwbench.peer')

VIR_DOMAIN_SHUTOFF = libvirt.VIR_DOMAIN_SHUTOFF
VIR_DOMAIN_CRASHED = libvirt.VIR_DOMAIN_CRASHED
VIR_DOMAIN_RUNNING = libvirt.VIR_DOMAIN_RUNNING
POWER_STATE = {
    libvirt.VIR_DOMAIN_NOSTATE: 'pending', libvirt.VIR_DOMAIN_RUNNING: 'running',
    libvirt.VIR_DOMAIN_BLOCKED: 'running', libvirt.VIR_DOMAIN_PAUSED: 'paused',
    libvirt.VIR_DOMAIN_SHUTDOWN: 'shutdown', libvirt.VIR_DOMAIN_SHUTOFF: 'shutdown',
    libvirt.VIR_DOMAIN_CRASHED: 'crashed', libvirt.VIR_DOMAIN_PMSUSPENDED: 'suspended',
}


def say(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


def make_conf(spec):
    """A config file as a deployment's nova.conf would carry these options."""
    parts = urllib.parse.urlsplit(spec['amqp_url'])
    path = parts.path if parts.path not in ('', '/') else '/'
    url = 'rabbit://%s%s' % (parts.netloc, path)
    lines = [
        '[DEFAULT]',
        'transport_url = %s' % url,
        'control_exchange = %s' % spec['exchange'],
        'executor_thread_pool_size = %d' % spec.get('threads', 64),
        '[oslo_messaging_rabbit]',
        'rabbit_qos_prefetch_count = %d' % spec['prefetch'],
        '[oslo_messaging_notifications]',
        'driver = messagingv2',
    ]
    fd, conf_path = tempfile.mkstemp(suffix='.conf')
    with os.fdopen(fd, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    conf = cfg.CONF
    conf(args=['--config-file', conf_path], project='hwbench_peer')
    os.unlink(conf_path)
    return conf


class Template(object):
    """One of hostwall's messages of the run, as text with its ids to replace per cast."""

    def __init__(self, t):
        self.event_type = t['event_type']
        self.publisher_id = t['publisher_id']
        self.text = t['payload']
        self.ids = [(k, v) for k, v in t.get('ids', {}).items() if v]

    def render(self, values):
        text = self.text
        for key, old in self.ids:
            new = values.get(key)
            if new:
                text = text.replace(old, new)
        return json.loads(text)


class Serializer(oslo_messaging.NoOpSerializer):
    """As nova's RequestContextSerializer: the context dict becomes a RequestContext and back."""

    def serialize_context(self, ctxt):
        return ctxt.to_dict() if hasattr(ctxt, 'to_dict') else ctxt

    def deserialize_context(self, ctxt):
        return oslo_context.RequestContext.from_dict(ctxt)


class ComputeEndpoint(object):
    target = oslo_messaging.Target(namespace='hostwall', version='1.0')

    def __init__(self, spec, conn, notifiers, templates):
        self.conn = conn
        self.nova, self.events, self.outcome = notifiers
        self.t = templates
        self.host = spec['host']
        self.done = 0
        self.failed = 0
        self.lock = threading.Lock()
        # oslo's dispatcher looks the method up by name (getattr): hostwall's names have dots.
        for kind, action in (('instance.power_off', self.power_off),
                             ('instance.power_on', self.power_on),
                             ('instance.reboot', self.reboot)):
            setattr(self, kind, self._cast(kind, action))

    def _cast(self, kind, action):
        verb = kind.split('.', 1)[1]

        def handle(ctxt, instance_uuid=None, **kwargs):
            ids = {'intent_id': ctxt.request_id, 'request_id': ctxt.request_id, 'instance_uuid': instance_uuid}
            self.events.info(ctxt, 'intent.accepted', self.t['intent.accepted'].render(ids))
            try:
                @synchronized(instance_uuid)
                def locked():
                    self.nova.info(ctxt, 'instance.%s.start' % verb, self.t['start'].render(ids))
                    dom = self.conn.lookupByUUIDString(instance_uuid)
                    action(dom)
                    state, _max_mem, _mem, _vcpus, _cpu = dom.info()
                    self.nova.info(ctxt, 'instance.%s.end' % verb, self.t['end'].render(ids))
                    payload = self.t['instance.state'].render(ids)
                    payload['power_state'] = POWER_STATE.get(state, 'nostate')
                    self.events.info(ctxt, 'instance.state', payload)
                    LOG.info('[instance: %s] %s done, power state %s', instance_uuid, kind,
                             payload['power_state'])

                locked()
                self.outcome.info(ctxt, 'intent.succeeded', self.t['intent.succeeded'].render(ids))
                with self.lock:
                    self.done += 1
            except Exception as exc:  # an outcome for every cast, as hostwall's
                LOG.exception('%s failed', kind)
                payload = self.t['intent.succeeded'].render(ids)
                payload['event'] = 'intent.failed'
                payload['error'] = {'code': type(exc).__name__, 'message': str(exc)[:500]}
                self.outcome.error(ctxt, 'intent.failed', payload)
                with self.lock:
                    self.failed += 1

        return handle

    # The libvirt calls of hostwall's driver (src/drivers/libvirt/power.ts) for each action.
    def power_off(self, dom):
        if dom.state()[0] == VIR_DOMAIN_SHUTOFF:
            return
        dom.shutdown()
        if dom.state()[0] != VIR_DOMAIN_SHUTOFF:
            dom.destroy()

    def power_on(self, dom):
        s = dom.state()[0]
        if s == VIR_DOMAIN_CRASHED:
            dom.destroy()
        if s in (VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_CRASHED):
            dom.createWithFlags(0)

    def reboot(self, dom):
        if dom.state()[0] == VIR_DOMAIN_RUNNING:
            dom.reboot(0)
            return
        if dom.state()[0] != VIR_DOMAIN_SHUTOFF:
            dom.destroy()
        if dom.hasManagedSaveImage(0):
            dom.managedSaveRemove(0)
        dom.createWithFlags(0)


def define_domains(conn, uuids):
    for i, uuid in enumerate(uuids):
        xml = ("<domain type='test'><name>hwbench-peer-%d-%s</name><uuid>%s</uuid>"
               "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>") % (i, uuid[:8], uuid)
        dom = conn.defineXML(xml)
        dom.create()


def main():
    spec = json.loads(sys.argv[1])
    logging.basicConfig(filename=spec['log_path'], level=logging.INFO,
                        format='%(asctime)s %(process)d %(levelname)s %(name)s %(message)s')
    conf = make_conf(spec)
    conn = libvirt.open(spec.get('libvirt_uri', 'test:///default'))
    define_domains(conn, spec['uuids'])

    rpc_transport = oslo_messaging.get_rpc_transport(conf)
    notif_transport = oslo_messaging.get_notification_transport(conf)
    templates = {k: Template(v) for k, v in spec['templates'].items()}
    serializer = Serializer()

    def notifier(topic, publisher):
        return oslo_messaging.Notifier(notif_transport, publisher_id=publisher, driver='messagingv2',
                                       topics=[topic], serializer=serializer)

    notifiers = (notifier(spec['topics']['nova'], templates['start'].publisher_id),
                 notifier(spec['topics']['events'], templates['intent.accepted'].publisher_id),
                 notifier(spec['topics']['outcome'], templates['intent.succeeded'].publisher_id))
    endpoint = ComputeEndpoint(spec, conn, notifiers, templates)
    target = oslo_messaging.Target(topic=spec['topic'], server=spec['server'])
    server = oslo_messaging.get_rpc_server(rpc_transport, target, [endpoint], executor='threading',
                                           serializer=serializer)
    say({'type': 'ready', 'pid': os.getpid()})

    started = False
    for line in sys.stdin:
        cmd = json.loads(line).get('cmd')
        if cmd == 'go' and not started:
            started = True
            server.start()
            say({'type': 'consuming'})
        elif cmd == 'stop':
            break
    t0 = time.time()
    if started:
        server.stop()
        server.wait()
    rpc_transport.cleanup()
    notif_transport.cleanup()
    conn.close()
    say({'type': 'stopped', 'done': endpoint.done, 'failed': endpoint.failed, 'stop_s': round(time.time() - t0, 2)})


if __name__ == '__main__':
    try:
        main()
    except Exception as exc:
        say({'type': 'error', 'message': '%s: %s' % (type(exc).__name__, exc)})
        raise
