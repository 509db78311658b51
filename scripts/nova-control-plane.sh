#!/usr/bin/env bash
# A real Nova control plane on this machine, from Debian's packages, for the
# compatibility tests and the benchmark (issue 12): Placement, Glance, a
# Neutron stand-in, nova-api, nova-conductor and nova-scheduler on MariaDB and
# a RabbitMQ vhost of their own. No systemd: every process is started here in
# the background with Debian's /usr/bin/python3 and the console entry points,
# in its own session, with a pid file.
#
#   nova-control-plane.sh up                start what is not running, wait until all answer;
#                                           prints "already-up" or "started" on stdout
#   nova-control-plane.sh down [--purge]    stop every process started here; --purge also
#                                           drops the databases, the vhost and the state dir
#   nova-control-plane.sh status            one line per process; exit 0 when all answer
#   nova-control-plane.sh env               shell-sourceable variables (after `up`)
#   nova-control-plane.sh discover          nova-manage cell_v2 discover_hosts
#   nova-control-plane.sh compute-conf HOST [FILE]      a compute host's nova-compute.conf
#   nova-control-plane.sh compute-start HOST            Debian's nova-compute (fake driver) for HOST
#   nova-control-plane.sh compute-stop HOST [--purge]   stop it (--purge: remove its files)
#
# Environment (defaults): NOVA_CP_DIR (/var/tmp/hostwall-nova-cp) state dir;
# NOVA_CP_DB_PREFIX (hwcp_) database names; NOVA_CP_VHOST (hwcp) RabbitMQ
# vhost; NOVA_CP_API_PORT (18774), NOVA_CP_PLACEMENT_PORT (18778),
# NOVA_CP_GLANCE_PORT (19292), NOVA_CP_NEUTRON_PORT (19696): taken as given
# when set, else the default or the next free port; NOVA_CP_SERVICE_DOWN_TIME
# (20 s, Nova's is 60), NOVA_CP_REPORT_INTERVAL (5 s, Nova's is 10),
# NOVA_CP_RPC_TIMEOUT (30 s, Nova's is 60), NOVA_CP_DEBUG (false),
# NOVA_CP_START_TIMEOUT (180 s for all services to answer).
#
# Exit status 3 means the Debian packages could not be installed (no network
# to Debian): the compatibility tests skip on it, and on nothing else.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/scripts/nova-cp
PY=/usr/bin/python3

NOVA_CP_DIR=${NOVA_CP_DIR:-/var/tmp/hostwall-nova-cp}
NOVA_CP_DB_PREFIX=${NOVA_CP_DB_PREFIX:-hwcp_}
NOVA_CP_VHOST=${NOVA_CP_VHOST:-hwcp}
NOVA_CP_SERVICE_DOWN_TIME=${NOVA_CP_SERVICE_DOWN_TIME:-20}
NOVA_CP_REPORT_INTERVAL=${NOVA_CP_REPORT_INTERVAL:-5}
NOVA_CP_RPC_TIMEOUT=${NOVA_CP_RPC_TIMEOUT:-30}
NOVA_CP_DEBUG=${NOVA_CP_DEBUG:-false}
NOVA_CP_START_TIMEOUT=${NOVA_CP_START_TIMEOUT:-180}
export NOVA_CP_DIR
ETC=$NOVA_CP_DIR/etc
RUN=$NOVA_CP_DIR/run
LOG=$NOVA_CP_DIR/log
TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/$NOVA_CP_VHOST

# In start order; `down` stops them in reverse.
SERVICES=(neutron placement glance conductor scheduler api)
DBS=(nova_api nova_cell0 nova placement glance)
PACKAGES=(python3-nova python3-placement python3-glance python3-pymysql python3-oslo.messaging mariadb-client curl)
IMAGE_NAME=${NOVA_CP_VHOST}-raw
FLAVOR_NAME=${NOVA_CP_VHOST}.small

say() { printf 'nova-control-plane: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

[[ $NOVA_CP_DB_PREFIX =~ ^[A-Za-z0-9_]*$ ]] || die "NOVA_CP_DB_PREFIX: letters, digits and _ only"
[[ $NOVA_CP_VHOST =~ ^[A-Za-z0-9_-]+$ ]] || die "NOVA_CP_VHOST: letters, digits, _ and - only"
[[ $NOVA_CP_DIR =~ ^/[A-Za-z0-9_./-]+$ ]] || die "NOVA_CP_DIR: an absolute path without spaces"

# shellcheck source=nova-cp/configs.sh
source "$HERE/configs.sh"
# shellcheck source=nova-cp/processes.sh
source "$HERE/processes.sh"
# shellcheck source=nova-cp/backing.sh
source "$HERE/backing.sh"

# --- ports -------------------------------------------------------------------

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports are chosen when nothing of ours runs (the default unless something else
# listens there) and kept in $NOVA_CP_DIR/ports while anything does: the
# services' configurations name each other's ports.
choose_ports() {
  local any=0 s
  for s in "${SERVICES[@]}"; do alive "$s" && any=1; done
  if ((any)) && [[ -f $NOVA_CP_DIR/ports ]]; then
    # shellcheck source=/dev/null
    source "$NOVA_CP_DIR/ports"
    return
  fi
  API_PORT=$(pick_port "${NOVA_CP_API_PORT:-}" 18774)
  PLACEMENT_PORT=$(pick_port "${NOVA_CP_PLACEMENT_PORT:-}" 18778)
  GLANCE_PORT=$(pick_port "${NOVA_CP_GLANCE_PORT:-}" 19292)
  NEUTRON_PORT=$(pick_port "${NOVA_CP_NEUTRON_PORT:-}" 19696)
  printf 'API_PORT=%s\nPLACEMENT_PORT=%s\nGLANCE_PORT=%s\nNEUTRON_PORT=%s\n' \
    "$API_PORT" "$PLACEMENT_PORT" "$GLANCE_PORT" "$NEUTRON_PORT" >"$NOVA_CP_DIR/ports"
}

pick_port() {
  local given=$1 p=$2
  if [[ -n $given ]]; then
    port_busy "$given" && die "port $given (given) is already in use"
    echo "$given"
    return
  fi
  while port_busy "$p"; do
    p=$((p + 1))
    (( p < $2 + 50 )) || die "no free port in $2..$p"
  done
  echo "$p"
}

load_ports() {
  [[ -f $NOVA_CP_DIR/ports ]] || return 1
  # shellcheck source=/dev/null
  source "$NOVA_CP_DIR/ports"
  set_urls
}

set_urls() {
  NOVA_API_URL=http://127.0.0.1:$API_PORT/v2.1
  PLACEMENT_URL=http://127.0.0.1:$PLACEMENT_PORT
  GLANCE_URL=http://127.0.0.1:$GLANCE_PORT
  NEUTRON_URL=http://127.0.0.1:$NEUTRON_PORT
}

# What answering means for each process.
probe() {
  case $1 in
    neutron) http_ok "$NEUTRON_URL/v2.0/networks" ;;
    placement) http_ok "$PLACEMENT_URL/" ;;
    glance) http_ok "$GLANCE_URL/versions" ;;
    api) http_ok "$NOVA_API_URL/" ;;
    conductor | scheduler) "$PY" "$HERE/rpc_ping.py" "$TRANSPORT_URL" 5 "$1" 2>/dev/null ;;
  esac
}

http_ok() {
  local code
  code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$1") || return 1
  [[ $code =~ ^[234] ]]
}

write_env() {
  local image=$1 flavor=$2
  cat >"$NOVA_CP_DIR/env.tmp" <<ENV
NOVA_CP_DIR=$NOVA_CP_DIR
NOVA_API_URL=$NOVA_API_URL
PLACEMENT_URL=$PLACEMENT_URL
GLANCE_URL=$GLANCE_URL
NEUTRON_URL=$NEUTRON_URL
NOVA_CP_TRANSPORT_URL=$TRANSPORT_URL
NOVA_CP_IMAGE_ID=$image
NOVA_CP_FLAVOR_ID=$flavor
NOVA_CP_COMPUTE_CONF_GEN=$HERE/compute-conf.sh
NOVA_CP_SCRIPT=$ROOT/scripts/nova-control-plane.sh
NOVA_CP_DB_PREFIX=$NOVA_CP_DB_PREFIX
NOVA_CP_VHOST=$NOVA_CP_VHOST
NOVA_CP_SERVICE_DOWN_TIME=$NOVA_CP_SERVICE_DOWN_TIME
NOVA_CP_REPORT_INTERVAL=$NOVA_CP_REPORT_INTERVAL
NOVA_CP_RPC_TIMEOUT=$NOVA_CP_RPC_TIMEOUT
NOVA_CP_DISCOVER_HOSTS_INTERVAL=-1
ENV
  mv "$NOVA_CP_DIR/env.tmp" "$NOVA_CP_DIR/env"
}

# --- commands ----------------------------------------------------------------

all_answer() {
  local s
  for s in "${SERVICES[@]}"; do alive "$s" || return 1; done
  for s in neutron placement glance api; do probe "$s" || return 1; done
  "$PY" "$HERE/rpc_ping.py" "$TRANSPORT_URL" 5 conductor scheduler 2>/dev/null
}

cmd_up() {
  local t0=$SECONDS
  mkdir -p "$ETC" "$RUN" "$LOG" "$NOVA_CP_DIR/nova/lock" "$NOVA_CP_DIR/glance"
  # Before the packages: two `up`s at once must not race apt-get either.
  lock_state
  ensure_packages
  ensure_broker
  ensure_mariadb
  choose_ports
  set_urls
  if [[ -f $NOVA_CP_DIR/env ]] && all_answer; then
    say "already up ($((SECONDS - t0)) s): $NOVA_API_URL"
    echo already-up
    return 0
  fi
  write_nova_conf
  write_placement_conf
  write_glance_conf
  start_service neutron "$PY" "$HERE/neutron_standin.py" "$NEUTRON_PORT"
  ensure_vhost
  ensure_databases
  start_service placement env OS_PLACEMENT_CONFIG_DIR="$ETC/placement" "$PY" "$HERE/placement_server.py" "$PLACEMENT_PORT"
  start_service glance "$PY" -c 'import sys; from glance.cmd.api import main; sys.exit(main())' --config-file "$ETC/glance-api.conf"
  start_service conductor "$PY" -c 'import sys; from nova.cmd.conductor import main; sys.exit(main())' --config-file "$ETC/nova.conf"
  start_service scheduler "$PY" -c 'import sys; from nova.cmd.scheduler import main; sys.exit(main())' --config-file "$ETC/nova.conf"
  # hwcp_noauth (the api-paste.ini noauth2 filter) is imported from $HERE.
  start_service api env PYTHONPATH="$HERE" "$PY" -c 'import sys; from nova.cmd.api import main; sys.exit(main())' --config-file "$ETC/nova.conf"
  await_services "$NOVA_CP_START_TIMEOUT"
  local image flavor
  image=$("$PY" "$HERE/provision.py" image "$GLANCE_URL" "$IMAGE_NAME") || die "image upload to Glance failed (log: $LOG/glance.log)"
  flavor=$("$PY" "$HERE/provision.py" flavor "$NOVA_API_URL" "$FLAVOR_NAME" 1 512 1) || die "flavor creation failed (log: $LOG/api.log)"
  write_env "$image" "$flavor"
  say "up in $((SECONDS - t0)) s: $NOVA_API_URL (image $image, flavor $flavor)"
  echo started
}

cmd_down() {
  local purge=${1:-}
  mkdir -p "$RUN"
  lock_state
  local f
  local -a computes=()
  for f in "$RUN"/compute-*.pid; do
    [[ -e $f ]] && computes+=("$(basename "$f" .pid)")
  done
  # Compute hosts first: they would log errors about a conductor that left.
  ((${#computes[@]} == 0)) || stop_services "${computes[@]}"
  stop_services "${SERVICES[@]}"
  if [[ $purge == --purge ]]; then
    drop_databases
    drop_vhost
    rm -rf "$NOVA_CP_DIR"
    say "purged: databases ${NOVA_CP_DB_PREFIX}*, vhost $NOVA_CP_VHOST, $NOVA_CP_DIR"
  fi
}

cmd_status() {
  load_ports || { say "not set up ($NOVA_CP_DIR/ports missing)"; return 1; }
  local s rc=0 state
  for s in "${SERVICES[@]}"; do
    if ! alive "$s"; then
      state=stopped
      rc=1
    elif probe "$s"; then
      state=answering
    else
      state="running, not answering"
      rc=1
    fi
    printf '%-10s %-8s %s\n' "$s" "$(pid_of "$s" || echo -)" "$state"
  done
  for f in "$RUN"/compute-*.pid; do
    [[ -e $f ]] || continue
    s=$(basename "$f" .pid)
    printf '%-10s %-8s %s\n' "$s" "$(pid_of "$s" || echo -)" "$(alive "$s" && echo running || echo stopped)"
  done
  return "$rc"
}

cmd_discover() {
  lock_file "$RUN/discover.lock"
  nova_manage --config-file "$ETC/nova.conf" cell_v2 discover_hosts 2>>"$LOG/nova-manage.log"
}

cmd_compute_start() {
  local host=${1:?usage: compute-start HOST}
  [[ -f $NOVA_CP_DIR/env ]] || die "the control plane is not up: run '$0 up' first"
  local conf
  conf=$("$HERE/compute-conf.sh" "$host")
  start_service "compute-$host" "$PY" -c 'import sys; from nova.cmd.compute import main; sys.exit(main())' --config-file "$conf"
  pid_of "compute-$host"
}

cmd_compute_stop() {
  local host=${1:?usage: compute-stop HOST [--purge]}
  stop_services "compute-$host"
  if [[ ${2:-} == --purge ]]; then
    rm -rf "${NOVA_CP_DIR:?}/compute/$host" "$LOG/compute-$host.log" "$LOG/compute-$host.log.1"
  fi
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down "${2:-}" ;;
  status) cmd_status ;;
  env)
    [[ -f $NOVA_CP_DIR/env ]] || die "not up: $NOVA_CP_DIR/env is missing"
    cat "$NOVA_CP_DIR/env"
    ;;
  discover) cmd_discover ;;
  compute-conf) shift; "$HERE/compute-conf.sh" "$@" ;;
  compute-start) cmd_compute_start "${2:-}" ;;
  compute-stop) cmd_compute_stop "${2:-}" "${3:-}" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
