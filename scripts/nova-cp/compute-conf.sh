#!/usr/bin/env bash
# Writes the nova-compute.conf of compute host HOST for the control plane
# that `nova-control-plane.sh up` started (read from $NOVA_CP_DIR/env), and
# prints its path. The same file serves Debian's nova-compute and hostwall
# (`hostwall worker --config-file`), which ignores compute_driver.
#
#   compute-conf.sh HOST [FILE]     FILE defaults to $NOVA_CP_DIR/compute/HOST/nova-compute.conf
#
# No [database] or [api_database]: a compute host reaches the database only
# through nova-conductor; with a connection, nova-compute logs "No DB access
# allowed" and takes another path.
set -euo pipefail
NOVA_CP_DIR=${NOVA_CP_DIR:-/var/tmp/hostwall-nova-cp}
HOST=${1:?usage: compute-conf.sh HOST [FILE]}
[[ $HOST =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || { echo "compute-conf.sh: bad host name '$HOST'" >&2; exit 2; }
[[ -f $NOVA_CP_DIR/env ]] || { echo "compute-conf.sh: $NOVA_CP_DIR/env is missing: run nova-control-plane.sh up first" >&2; exit 1; }
# shellcheck source=/dev/null
source "$NOVA_CP_DIR/env"
HOST_DIR=$NOVA_CP_DIR/compute/$HOST
FILE=${2:-$HOST_DIR/nova-compute.conf}
mkdir -p "$HOST_DIR/state/lock" "$HOST_DIR/instances" "$(dirname "$FILE")"
cat >"$FILE.tmp" <<CONF
[DEFAULT]
host = $HOST
my_ip = 127.0.0.1
transport_url = $NOVA_CP_TRANSPORT_URL
state_path = $HOST_DIR/state
instances_path = $HOST_DIR/instances
# Heartbeat (Service.save of report_count); the control plane counts a host
# as down after service_down_time = $NOVA_CP_SERVICE_DOWN_TIME s.
report_interval = $NOVA_CP_REPORT_INTERVAL
compute_driver = fake.SmallFakeDriver

[oslo_messaging_notifications]
driver = messagingv2

[notifications]
notification_format = both

[oslo_concurrency]
lock_path = $HOST_DIR/state/lock

[placement]
auth_type = admin_token
endpoint_override = $PLACEMENT_URL
token = admin

[neutron]
auth_type = admin_token
endpoint_override = $NEUTRON_URL
token = admin

[glance]
endpoint_override = $GLANCE_URL
CONF
mv "$FILE.tmp" "$FILE"
echo "$FILE"
