"""Wait until Nova's RPC services answer, as nova-compute does at start.

Calls `ping` (namespace baseapi, version 1.0: nova/baserpc.py, served by every
nova service's RPC server) on each topic given, retrying until the deadline.
An answer means the service consumes its topic queue, which its HTTP-less
log lines or its service record's heartbeat cannot prove.

Usage: rpc_ping.py TRANSPORT_URL DEADLINE_S TOPIC...   exit 0 when all answered
"""
import os
import sys
import time

import oslo_messaging as messaging
from oslo_config import cfg


def main():
    url, deadline_s, topics = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    # The global CONF: oslo.messaging registers its metrics options there.
    conf = cfg.CONF
    conf([], project='hwcp-ping')
    transport = messaging.get_rpc_transport(conf, url=url)
    deadline = time.monotonic() + deadline_s
    try:
        for topic in topics:
            # Nova sets control_exchange 'nova' (nova/rpc.py); oslo's default is 'openstack'.
            target = messaging.Target(exchange='nova', topic=topic, namespace='baseapi', version='1.0')
            client = messaging.get_rpc_client(transport, target)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    print('no answer from topic %s' % topic, file=sys.stderr)
                    return 1
                try:
                    client.prepare(timeout=min(3, max(1, int(left)))).call({}, 'ping', arg='hwcp')
                    break
                except messaging.MessagingTimeout:
                    continue
    finally:
        transport.cleanup()
    return 0


if __name__ == '__main__':
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # oslo.messaging's reply poller is not a daemon thread: a normal exit waits
    # ~10 s for it after the transport is cleaned up.
    os._exit(rc)
