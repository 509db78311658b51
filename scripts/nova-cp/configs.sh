# Configuration files of the control plane, written from the variables
# nova-control-plane.sh sets (sourced by it; not run on its own). Written on
# every `up`: they are a pure function of those variables, so a running
# service and the files on disk never disagree.

db_url() { printf 'mysql+pymysql://root@127.0.0.1:3306/%s%s?charset=utf8' "$NOVA_CP_DB_PREFIX" "$1"; }

write_nova_conf() {
  cat >"$ETC/nova.conf" <<CONF
# Control plane services (nova-api, nova-conductor, nova-scheduler, nova-manage).
[DEFAULT]
host = ${NOVA_CP_VHOST}-control
my_ip = 127.0.0.1
transport_url = $TRANSPORT_URL
state_path = $NOVA_CP_DIR/nova
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = $API_PORT
# One process per service: two cores, shared with the tests and other helpers.
osapi_compute_workers = 1
# A compute host is "down" for the scheduler and os-services after this many
# seconds without a heartbeat (Nova's default 60); report_interval is the
# control plane services' own heartbeat.
service_down_time = $NOVA_CP_SERVICE_DOWN_TIME
report_interval = $NOVA_CP_REPORT_INTERVAL
# An RPC call to a compute host that never answers fails after this (default 60).
rpc_response_timeout = $NOVA_CP_RPC_TIMEOUT
debug = $NOVA_CP_DEBUG

[api]
auth_strategy = noauth2

[wsgi]
api_paste_config = $ETC/nova-api-paste.ini

[api_database]
connection = $(db_url nova_api)

[database]
connection = $(db_url nova)

[conductor]
workers = 1

[scheduler]
workers = 1
# Tests map new compute hosts themselves (nova-control-plane.sh discover).
discover_hosts_in_cells_interval = -1

[quota]
# Servers left by a failed run must not make the next run fail on quota.
driver = nova.quota.NoopQuotaDriver

[oslo_concurrency]
lock_path = $NOVA_CP_DIR/nova/lock

[placement]
auth_type = admin_token
endpoint_override = $PLACEMENT_URL
token = admin

[glance]
endpoint_override = $GLANCE_URL

[neutron]
auth_type = admin_token
endpoint_override = $NEUTRON_URL
token = admin
CONF

  # Given after nova.conf, it points [database] at cell0: the cell0 schema
  # sync runs on its own, without waiting for map_cell0.
  printf '[database]\nconnection = %s\n' "$(db_url nova_cell0)" >"$ETC/nova-cell0.conf"

  # Debian's /usr/share/nova-common/api-paste.ini (nova-common 26.2.2), the
  # osapi_compute part, with ONE change: the noauth2 filter keeps the
  # caller's token on the context (scripts/nova-cp/hwcp_noauth.py says why).
  cat >"$ETC/nova-api-paste.ini" <<'PASTE'
[composite:osapi_compute]
use = call:nova.api.openstack.urlmap:urlmap_factory
/: oscomputeversions
/v2: oscomputeversion_legacy_v2
/v2.1: oscomputeversion_v2
/v2/+: openstack_compute_api_v21_legacy_v2_compatible
/v2.1/+: openstack_compute_api_v21

[composite:openstack_compute_api_v21]
use = call:nova.api.auth:pipeline_factory_v21
noauth2 = cors http_proxy_to_wsgi compute_req_id faultwrap request_log sizelimit osprofiler noauth2 osapi_compute_app_v21

[composite:openstack_compute_api_v21_legacy_v2_compatible]
use = call:nova.api.auth:pipeline_factory_v21
noauth2 = cors http_proxy_to_wsgi compute_req_id faultwrap request_log sizelimit osprofiler noauth2 legacy_v2_compatible osapi_compute_app_v21

[filter:request_log]
paste.filter_factory = nova.api.openstack.requestlog:RequestLog.factory

[filter:compute_req_id]
paste.filter_factory = nova.api.compute_req_id:ComputeReqIdMiddleware.factory

[filter:faultwrap]
paste.filter_factory = nova.api.openstack:FaultWrapper.factory

[filter:noauth2]
paste.filter_factory = hwcp_noauth:NoAuthKeepToken.factory

[filter:osprofiler]
paste.filter_factory = nova.profiler:WsgiMiddleware.factory

[filter:sizelimit]
paste.filter_factory = oslo_middleware:RequestBodySizeLimiter.factory

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware.http_proxy_to_wsgi:HTTPProxyToWSGI.factory

[filter:legacy_v2_compatible]
paste.filter_factory = nova.api.openstack:LegacyV2CompatibleWrapper.factory

[app:osapi_compute_app_v21]
paste.app_factory = nova.api.openstack.compute:APIRouterV21.factory

[pipeline:oscomputeversions]
pipeline = cors faultwrap request_log http_proxy_to_wsgi oscomputeversionapp

[pipeline:oscomputeversion_v2]
pipeline = cors compute_req_id faultwrap request_log http_proxy_to_wsgi oscomputeversionapp_v2

[pipeline:oscomputeversion_legacy_v2]
pipeline = cors compute_req_id faultwrap request_log http_proxy_to_wsgi legacy_v2_compatible oscomputeversionapp_v2

[app:oscomputeversionapp]
paste.app_factory = nova.api.openstack.compute.versions:Versions.factory

[app:oscomputeversionapp_v2]
paste.app_factory = nova.api.openstack.compute.versions:VersionsV2.factory

[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = nova
PASTE
}

write_placement_conf() {
  mkdir -p "$ETC/placement"
  cat >"$ETC/placement/placement.conf" <<CONF
[DEFAULT]
debug = $NOVA_CP_DEBUG

[api]
auth_strategy = noauth2

[placement_database]
connection = $(db_url placement)
CONF
}

write_glance_conf() {
  cat >"$ETC/glance-api.conf" <<CONF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $GLANCE_PORT
# 0: serve in the parent process, no forked workers.
workers = 0
enabled_backends = fs:file
debug = $NOVA_CP_DEBUG

[database]
connection = $(db_url glance)

[glance_store]
default_backend = fs

[fs]
filesystem_store_datadir = $NOVA_CP_DIR/glance/images/

[os_glance_staging_store]
filesystem_store_datadir = $NOVA_CP_DIR/glance/staging/

[os_glance_tasks_store]
filesystem_store_datadir = $NOVA_CP_DIR/glance/tasks/

[paste_deploy]
# Empty flavor: the unauthenticated pipeline (every request is admin).
flavor =
config_file = $ETC/glance-api-paste.ini
CONF

  # Glance's own glance-api-paste.ini, the unauthenticated pipeline only.
  cat >"$ETC/glance-api-paste.ini" <<'PASTE'
[pipeline:glance-api]
pipeline = versionnegotiation unauthenticated-context rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory

[filter:unauthenticated-context]
paste.filter_factory = glance.api.middleware.context:UnauthenticatedContextMiddleware.factory
PASTE
}
