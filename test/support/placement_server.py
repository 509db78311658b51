"""Debian's real OpenStack Placement on a free port, for the tests.

Reads $OS_PLACEMENT_CONFIG_DIR/placement.conf (written by placement-server.ts:
a SQLite database, auth_strategy = noauth2), creates the schema (what
`placement-manage db sync` does), then serves placement.wsgi.init_application
with wsgiref and a thread per request. Prints one line {"port": N} on stdout
once it accepts connections; runs until killed.
"""
import json
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from oslo_config import cfg
from placement import conf, db_api
from placement.db.sqlalchemy import migration

config = cfg.ConfigOpts()
conf.register_opts(config)
config([], project='placement',
       default_config_files=[os.path.join(os.environ['OS_PLACEMENT_CONFIG_DIR'], 'placement.conf')])
db_api.configure(config)
migration.upgrade('head')

from placement import wsgi  # noqa: E402  (after the schema exists)

app = wsgi.init_application()


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Handler(WSGIRequestHandler):
    def log_message(self, fmt, *args):
        if os.environ.get('PLACEMENT_ACCESS_LOG'):
            sys.stderr.write('%s\n' % (fmt % args))


server = make_server('127.0.0.1', 0, app, server_class=Server, handler_class=Handler)
print(json.dumps({'port': server.server_port}), flush=True)
server.serve_forever()
