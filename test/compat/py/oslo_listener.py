#!/usr/bin/python3
"""A real oslo.messaging notification listener (Nova's versioned topic).

Prints one JSON line per notification dispatched; "ready" once listening.
Stops when stdin closes. Env: AMQP_URL, EXCHANGE, POOL, TOPICS (comma list).
"""
import json
import os
import sys
import threading

from oslo_config import cfg
import oslo_messaging


# The threading executor dispatches notifications on several threads at once, and
# print() writes the text and the newline separately: two notifications could share
# one line, which the test cannot parse. One locked write per line.
_out = threading.Lock()


class Endpoint(object):
    def _emit(self, priority, ctxt, publisher_id, event_type, payload, metadata):
        line = json.dumps({'priority': priority, 'ctxt': ctxt, 'publisher_id': publisher_id,
                           'event_type': event_type, 'payload': payload,
                           'metadata': metadata}, default=str) + '\n'
        with _out:
            sys.stdout.write(line)
            sys.stdout.flush()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._emit('info', ctxt, publisher_id, event_type, payload, metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._emit('error', ctxt, publisher_id, event_type, payload, metadata)


def main():
    url = os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672/')
    url = 'rabbit://' + url.split('://', 1)[1]
    conf = cfg.CONF  # oslo registers its metrics options on the global CONF
    conf(args=[], project='hostwall_compat')
    oslo_messaging.set_transport_defaults(os.environ.get('EXCHANGE', 'nova'))
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    topics = os.environ.get('TOPICS', 'versioned_notifications').split(',')
    targets = [oslo_messaging.Target(topic=t) for t in topics]
    listener = oslo_messaging.get_notification_listener(
        transport, targets, [Endpoint()], executor='threading',
        pool=os.environ.get('POOL') or None)
    listener.start()
    print(json.dumps({'ready': True}), flush=True)
    sys.stdin.read()
    listener.stop()
    listener.wait()
    transport.cleanup()


if __name__ == '__main__':
    main()
