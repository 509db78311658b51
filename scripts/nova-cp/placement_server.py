"""Serve Debian's Placement (placement.wsgi.init_application) on 127.0.0.1.

The package ships the WSGI application but no server; wsgiref with a
threading mix-in is enough for a test control plane (nova-scheduler and the
compute hosts call it concurrently, so a single-threaded server would
serialize a boot behind a compute host's periodic task).

Usage: placement_server.py PORT LOGFILE   (reads $OS_PLACEMENT_CONFIG_DIR/placement.conf)
"""
import socketserver
import sys
from wsgiref import simple_server

from placement import wsgi


class ThreadingWSGIServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class QuietHandler(simple_server.WSGIRequestHandler):
    # Placement logs each request itself (oslo.log); wsgiref's access line would
    # go to stderr, which is the same log file, twice per request.
    def log_message(self, format, *args):  # noqa: A002 (wsgiref's signature)
        pass


def main():
    port = int(sys.argv[1])
    app = wsgi.init_application()
    server = simple_server.make_server('127.0.0.1', port, app, server_class=ThreadingWSGIServer,
                                       handler_class=QuietHandler)
    print('placement listening on 127.0.0.1:%d' % port, flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
