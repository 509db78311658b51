#!/usr/bin/python3
"""Real oslo.messaging 14 codec functions, one JSON request per stdin line.

Ops (each answers one JSON line):
  {"op": "deserialize_failure", "data": "<failure json string>", "allowed": [...]}
      -> how a Python RPC client would raise it: class, module, str, and for
         RemoteError its exc_type/value
  {"op": "deserialize_msg", "body": "<AMQP body text>"}
      -> oslo's deserialize_msg (envelope unwrapping) result, or the error
  {"op": "unpack_request", "body": "<AMQP body text>"}
      -> the server's view of a request: context dict (unpack_context),
         method/args/version/namespace as the dispatcher reads them
  {"op": "serialize_failure", "class": "ValueError", "message": "m"}
      -> oslo's own failure JSON for a builtin exception (for comparison)
"""
import json
import sys

from oslo_messaging._drivers import amqp as rpc_amqp
from oslo_messaging._drivers import common


def deserialize_failure(req):
    exc = common.deserialize_remote_exception(req['data'], req.get('allowed', []))
    out = {'class': type(exc).__name__, 'module': type(exc).__module__,
           'str': str(exc)}
    if hasattr(exc, 'exc_type'):
        out['exc_type'] = exc.exc_type
        out['value'] = exc.value
    return out


def deserialize_msg(req):
    return {'message': common.deserialize_msg(json.loads(req['body']))}


def unpack_request(req):
    msg = common.deserialize_msg(json.loads(req['body']))
    ctxt = rpc_amqp.unpack_context(msg)
    return {'context': ctxt.to_dict(), 'msg_id': ctxt.msg_id,
            'reply_q': ctxt.reply_q,
            'method': msg.get('method'), 'args': msg.get('args', {}),
            'version': msg.get('version', '1.0'),
            'namespace': msg.get('namespace'),
            'unique_id': msg.get('_unique_id')}


def serialize_failure(req):
    cls = getattr(__builtins__, req['class'], None) or __builtins__[req['class']]
    try:
        raise cls(req['message'])
    except Exception:
        return {'data': common.serialize_remote_exception(sys.exc_info())}


OPS = {'deserialize_failure': deserialize_failure,
       'deserialize_msg': deserialize_msg,
       'unpack_request': unpack_request,
       'serialize_failure': serialize_failure}


def main():
    print(json.dumps({'ready': True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            out = OPS[req['op']](req)
        except Exception as e:  # noqa
            out = {'error': type(e).__name__, 'error_module': type(e).__module__,
                   'error_str': str(e)}
        print(json.dumps(out, default=str), flush=True)


if __name__ == '__main__':
    main()
