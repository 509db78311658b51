#!/usr/bin/python3
"""A real oslo.messaging RPC client sending hostwall intents.

Reads JSON lines on stdin: {"op": "call"|"cast", "method": ..., "args": {...},
"version": "1.0", "namespace": "hostwall", "timeout": 30}; prints one JSON line
per step with the result or the exception as the client raised it.
Env: AMQP_URL (amqp://user:pass@host:port/vhost), HOST (server), EXCHANGE.
"""
import json
import os
import sys

from oslo_config import cfg
import oslo_messaging


def main():
    url = os.environ.get('AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672/')
    url = 'rabbit://' + url.split('://', 1)[1]
    conf = cfg.CONF  # oslo registers its metrics options on the global CONF
    conf(args=[], project='hostwall_compat')
    oslo_messaging.set_transport_defaults(os.environ.get('EXCHANGE', 'nova'))
    transport = oslo_messaging.get_rpc_transport(conf, url=url)
    ctxt = {'request_id': 'req-compat-1', 'user_id': 'u1', 'project_id': 'p1',
            'issuer': os.environ.get('ISSUER', 'nova'), 'auth_token': 'SECRET-TOKEN'}
    print(json.dumps({'ready': True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        step = json.loads(line)
        target = oslo_messaging.Target(topic='compute', server=os.environ['HOST'],
                                       namespace=step.get('namespace', 'hostwall'),
                                       version=step.get('version', '1.0'))
        client = oslo_messaging.get_rpc_client(transport, target,
                                               timeout=step.get('timeout', 30))
        try:
            if step['op'] == 'cast':
                client.cast(ctxt, step['method'], **step.get('args', {}))
                out = {'ok': True, 'result': None}
            else:
                out = {'ok': True, 'result': client.call(ctxt, step['method'], **step.get('args', {}))}
        except Exception as e:  # noqa: BLE001 - we report whatever the client raised
            out = {'ok': False, 'exc_class': type(e).__name__, 'exc_module': type(e).__module__,
                   'exc_type': getattr(e, 'exc_type', None), 'value': getattr(e, 'value', None),
                   'str': str(e)[:2000]}
        print(json.dumps(out, default=str), flush=True)
    transport.cleanup()


if __name__ == '__main__':
    main()
