"""What Debian's oslo.messaging makes of a transport_url, for comparison with
hostwall's parser (test/compat/oslo-transport-url.test.ts).

One JSON request per line on stdin, one JSON answer per line on stdout:
  {"op": "parse", "url": U}      TransportURL.parse(U) as written, or the error
  {"op": "kombu", "url": U}      what the rabbit driver connects to, host by
                                 host: oslo's _transform_transport_url for each
                                 host (without the driver's initial shuffle),
                                 then kombu's own defaults through a failover
                                 cycle (hostname, port, userid, password, vhost)
  {"op": "driver", "url": U}     whether the rabbit driver accepts U's query
                                 (ConfigOptsProxy checks names and types)
  {"op": "options"}              the option names and types of the rabbit and
                                 amqp1 driver groups
"""
import json
import sys
import types

import kombu
import oslo_messaging
from oslo_config import cfg
from oslo_config import types as cfg_types
from oslo_messaging import transport
from oslo_messaging._drivers import impl_rabbit
from oslo_messaging._drivers.amqp1_driver import opts as amqp1_opts


def parse(url):
    u = transport.TransportURL.parse(cfg.ConfigOpts(), url)
    return {
        'transport': u.transport,
        'virtualHost': u.virtual_host,
        'hosts': [{'hostname': h.hostname, 'port': h.port, 'username': h.username, 'password': h.password} for h in u.hosts],
        'query': u.query,
    }


def kombu_hosts(url):
    u = transport.TransportURL.parse(cfg.ConfigOpts(), url)
    fake = types.SimpleNamespace(_parse_url_hostname=lambda h: impl_rabbit.Connection._parse_url_hostname(None, h))
    if u.hosts:
        urls = [impl_rabbit.Connection._transform_transport_url(fake, u, h) for h in u.hosts]
    else:
        urls = [impl_rabbit.Connection._transform_transport_url(
            fake, u, transport.TransportHost(''), default_username='guest', default_password='guest', default_hostname='localhost')]
    conn = kombu.Connection(';'.join(urls), failover_strategy='round-robin')
    out = []
    for _ in urls:
        info = conn.info()
        out.append({'hostname': info['hostname'], 'port': info['port'], 'username': info['userid'],
                    'password': info['password'], 'vhost': info['virtual_host']})
        conn.maybe_switch_next()
    return out


def driver_accepts(url):
    conf = cfg.ConfigOpts()
    conf([])
    t = oslo_messaging.get_rpc_transport(conf, url=url)  # lazy: does not connect
    t.cleanup()
    return True


def type_name(opt):
    ty = opt.type
    if isinstance(ty, cfg_types.Boolean):
        return 'bool'
    if isinstance(ty, cfg_types.Integer):
        return 'int'
    if isinstance(ty, cfg_types.Float):
        return 'float'
    if isinstance(ty, cfg_types.String) and ty.choices:
        return list(ty.choices)
    return 'str'


def options():
    return {
        'rabbit': {o.name: type_name(o) for o in impl_rabbit.rabbit_opts},
        'amqp1': {o.name: type_name(o) for o in amqp1_opts.amqp1_opts},
    }


OPS = {'parse': parse, 'kombu': kombu_hosts, 'driver': driver_accepts}

for line in sys.stdin:
    req = json.loads(line)
    try:
        if req['op'] == 'options':
            res = {'ok': True, 'value': options()}
        else:
            res = {'ok': True, 'value': OPS[req['op']](req['url'])}
    except Exception as e:  # noqa: BLE001 - the error is the answer
        res = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
    print(json.dumps(res), flush=True)
