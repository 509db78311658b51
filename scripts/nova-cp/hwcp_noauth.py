"""noauth2 for nova-api that keeps the caller's token on the request context.

Nova's own NoAuthMiddleware builds the RequestContext without auth_token, so
nova-api's calls to Glance on behalf of the caller (POST /servers with an
image) fail with "AuthorizationFailure: No valid authentication is
available". This filter does exactly what noauth2 does (X-Auth-Token
"user:project", admin when the user is "admin") and then keeps the token as
the context's auth_token; Glance (unauthenticated pipeline) and the Neutron
stand-in ignore its value. Named in api-paste.ini as the noauth2 filter.
"""
import webob.dec

from nova.api.openstack import auth
from nova.api.openstack import wsgi


class NoAuthKeepToken(auth.NoAuthMiddleware):
    @webob.dec.wsgify(RequestClass=wsgi.Request)
    def __call__(self, req):
        res = self.base_call(req, True, always_admin=False)
        ctx = req.environ.get('nova.context')
        if ctx is not None:
            ctx.auth_token = req.headers.get('X-Auth-Token')
        return res
