#!/usr/bin/python3
"""A Neutron-style sender: tell a host that a port is wired (no Nova involved).

What an L2 agent (or neutron-server) would do once a port is ACTIVE: cast
`port.ready` to the host's wall. A spawn waiting for that port resumes; if no
spawn waits yet, hostwall remembers it for a while.

    usage: neutron_port_ready.py HOST PORT_ID [completed|failed]
    env:   AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/)
"""
import os
import sys

from oslo_config import cfg
import oslo_messaging


def main():
    host, port_id = sys.argv[1], sys.argv[2]
    status = sys.argv[3] if len(sys.argv) > 3 else 'completed'
    url = 'rabbit://' + os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672/').split('://', 1)[1]
    cfg.CONF(args=[], project='neutron-example')
    oslo_messaging.set_transport_defaults('nova')  # hostwall's control exchange
    transport = oslo_messaging.get_rpc_transport(cfg.CONF, url=url)
    target = oslo_messaging.Target(topic='compute', server=host, namespace='hostwall', version='1.0')
    client = oslo_messaging.get_rpc_client(transport, target, timeout=30)
    ctxt = {'issuer': 'neutron', 'request_id': 'req-neutron-example'}
    # A call returns once the wall took it: waiter=True if a spawn was waiting for this port.
    print(client.call(ctxt, 'port.ready', port_id=port_id, status=status))
    transport.cleanup()


if __name__ == '__main__':
    main()
