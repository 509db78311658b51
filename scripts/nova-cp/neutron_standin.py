"""A Neutron stand-in: every collection GET answers an empty list.

Servers booted with "networks": "none" still make Nova ask Neutron, GETs
only (nova-api: ports of a server on every show; the compute host: ports and
networks on start, delete and cache heal). `GET /v2.0/security-groups` answers
{"security_groups": []}; a GET of one resource answers 404 as Neutron would;
anything else answers 404 too, so a test that makes Nova write to Neutron
fails loudly instead of passing on an invented answer. Each request is one
line in the log (method, path, status), so a test can see what Nova asked.

Usage: neutron_standin.py PORT
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _not_found(self):
        self._answer(404, {'NeutronError': {'type': 'HTTPNotFound', 'message': 'stand-in: %s %s' % (self.command, self.path), 'detail': ''}})

    def do_GET(self):  # noqa: N802 (http.server's naming)
        parts = [p for p in urlsplit(self.path).path.split('/') if p]
        if parts and parts[0] == 'v2.0':
            parts = parts[1:]
        if not parts:
            self._answer(200, {'versions': [{'id': 'v2.0', 'status': 'CURRENT', 'links': []}]})
        elif len(parts) == 1:
            # /v2.0/security-groups.json is how older clients ask.
            collection = parts[0].removesuffix('.json').replace('-', '_')
            self._answer(200, {collection: []})
        else:
            self._not_found()

    def _drain_and_refuse(self):
        length = int(self.headers.get('Content-Length') or 0)
        if length:
            self.rfile.read(length)
        self._not_found()

    do_POST = do_PUT = do_DELETE = do_PATCH = _drain_and_refuse  # noqa: N815

    def log_message(self, format, *args):  # noqa: A002
        sys.stderr.write('%s %s\n' % (self.log_date_time_string(), format % args))
        sys.stderr.flush()


def main():
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(('127.0.0.1', port), Handler)
    server.daemon_threads = True
    print('neutron stand-in listening on 127.0.0.1:%d' % port, flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
