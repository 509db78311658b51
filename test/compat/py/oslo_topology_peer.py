#!/usr/bin/python3
"""Make the real oslo.messaging declare its topology in a vhost, for comparison.

Env:
  AMQP_URL          amqp://user:pass@host:port/  (the vhost comes from VHOST)
  VHOST             vhost to use
  RABBIT_OPTS       comma list of key=value for [oslo_messaging_rabbit],
                    e.g. "rabbit_quorum_queue=true,rabbit_quorum_delivery_limit=5"
  CONTROL_EXCHANGE  [DEFAULT] control_exchange (nova sets 'nova')
  ROLE              rpc_server: an RPC server for Target(topic=TOPIC, server=SERVER);
                              prints {"ready": true} and runs until stdin closes
                    notifier:   a messagingv2 Notifier with topics notifications and
                              versioned_notifications sends info and error
                    reply:      an RPC client makes one call (to a topic nobody serves,
                              timeout 1 s), which declares its reply queue
  TOPIC, SERVER     default compute / host1
Each role prints {"done": true} (or {"ready": true}) when its objects exist.
"""
import json
import os
import sys
import tempfile
import urllib.parse

from oslo_config import cfg
import oslo_messaging


def make_conf():
    base = os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672/')
    parts = urllib.parse.urlsplit(base)
    vhost = urllib.parse.quote(os.environ['VHOST'], safe='')
    url = 'rabbit://%s/%s' % (parts.netloc, vhost)
    lines = ['[DEFAULT]', 'transport_url = %s' % url]
    if os.environ.get('CONTROL_EXCHANGE'):
        lines.append('control_exchange = %s' % os.environ['CONTROL_EXCHANGE'])
    lines.append('[oslo_messaging_rabbit]')
    for kv in filter(None, os.environ.get('RABBIT_OPTS', '').split(',')):
        k, v = kv.split('=', 1)
        lines.append('%s = %s' % (k.strip(), v.strip()))
    fd, path = tempfile.mkstemp(suffix='.conf')
    with os.fdopen(fd, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    conf = cfg.CONF  # oslo registers some opts on the global CONF
    conf(args=['--config-file', path], project='hostwall_compat')
    os.unlink(path)
    return conf


class Endpoint(object):
    target = oslo_messaging.Target(version='5.0')

    def echo(self, ctxt, **kw):
        return kw


def say(obj):
    print(json.dumps(obj), flush=True)


def main():
    conf = make_conf()
    role = os.environ.get('ROLE', 'rpc_server')
    topic = os.environ.get('TOPIC', 'compute')
    if role == 'rpc_server':
        transport = oslo_messaging.get_rpc_transport(conf)
        target = oslo_messaging.Target(topic=topic, server=os.environ.get('SERVER', 'host1'))
        server = oslo_messaging.get_rpc_server(transport, target, [Endpoint()], executor='threading')
        server.start()
        say({'ready': True})
        sys.stdin.read()  # until the test closes our stdin
        server.stop()
        server.wait()
        transport.cleanup()
    elif role == 'notifier':
        transport = oslo_messaging.get_notification_transport(conf)
        n = oslo_messaging.Notifier(transport, publisher_id='compute.host1', driver='messagingv2',
                                    topics=['notifications', 'versioned_notifications'])
        n.info({'user_id': 'u'}, 'compute.instance.create.end', {'x': 1})
        n.error({'user_id': 'u'}, 'compute.instance.create.error', {'x': 1})
        transport.cleanup()
        say({'done': True})
    elif role == 'reply':
        transport = oslo_messaging.get_rpc_transport(conf)
        client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic='nobody_serves_this'), timeout=1)
        try:
            client.call({}, 'echo')
        except oslo_messaging.MessagingTimeout:
            pass
        transport.cleanup()
        say({'done': True})
    else:
        raise SystemExit('unknown ROLE %s' % role)


if __name__ == '__main__':
    main()
