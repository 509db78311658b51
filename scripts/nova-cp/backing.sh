# What the control plane stands on (sourced by nova-control-plane.sh): Debian
# packages, RabbitMQ and its vhost, MariaDB and the databases with their
# schemas and cells.

ensure_packages() {
  local p missing=() installed
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
  for p in "${PACKAGES[@]}"; do
    grep -qx "$p install ok installed" <<<"$installed" || missing+=("$p")
  done
  command -v rabbitmqctl >/dev/null || missing+=(rabbitmq-server)
  command -v mariadbd >/dev/null || command -v mysqld >/dev/null || missing+=(mariadb-server)
  ((${#missing[@]})) || return 0
  say "installing Debian packages: ${missing[*]}"
  if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
    say "cannot install Debian packages: ${missing[*]}"
    exit 3
  fi
}

ensure_broker() {
  port_busy 5672 && return 0
  say "starting rabbitmq-server"
  as_root rabbitmq-server -detached
  local i
  for ((i = 0; i < 120; i++)); do port_busy 5672 && return 0; sleep 0.5; done
  die "RabbitMQ did not come up on 127.0.0.1:5672"
}

mysql_root() { mysql -uroot -h127.0.0.1 -N -B "$@"; }

# root without a password over TCP, as the recipe's machine has it. A fresh
# Debian MariaDB lets root in over its socket only: then root@127.0.0.1 is
# created (the machine is a test machine; said on stderr).
ensure_mariadb() {
  if ! port_busy 3306; then
    say "starting MariaDB"
    as_root /etc/init.d/mariadb start >/dev/null
    port_busy 3306 || die "MariaDB did not come up on 127.0.0.1:3306"
  fi
  mysql_root -e 'SELECT 1' >/dev/null 2>&1 && return 0
  as_root mysql -uroot -N -B -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" ||
    die "MariaDB refuses root@127.0.0.1 without a password, and root over the socket cannot fix it"
  say "created root@127.0.0.1 without a password in MariaDB (the control plane connects as it)"
}

# One rabbitmqctl call when the vhost is there already (each call costs ~1 s).
ensure_vhost() {
  rabbitmqctl -q list_permissions -p "$NOVA_CP_VHOST" 2>/dev/null | grep -q '^guest' && return 0
  rabbitmqctl -q add_vhost "$NOVA_CP_VHOST" 2>/dev/null || true
  rabbitmqctl -q set_permissions -p "$NOVA_CP_VHOST" guest '.*' '.*' '.*' >/dev/null
  # Compute hosts send notifications (messagingv2) that nobody consumes here:
  # oslo declares their queues, so cap them instead of letting them grow.
  rabbitmqctl -q set_policy -p "$NOVA_CP_VHOST" --apply-to queues hwcp-notifications-cap \
    '^(versioned_)?notifications\.' '{"max-length":1000}' >/dev/null
}

drop_vhost() { rabbitmqctl -q delete_vhost "$NOVA_CP_VHOST" >/dev/null 2>&1 || true; }

db_list_sql() {
  local d sep=''
  for d in "${DBS[@]}"; do printf "%s'%s%s'" "$sep" "$NOVA_CP_DB_PREFIX" "$d"; sep=,; done
}

# Schemas are synced once: the marker says so, and every database must still
# have tables (someone may have dropped one since).
schemas_synced() {
  [[ -f $NOVA_CP_DIR/db-synced ]] || return 1
  local n
  n=$(mysql_root -e "SELECT COUNT(DISTINCT table_schema) FROM information_schema.tables WHERE table_schema IN ($(db_list_sql))")
  [[ $n == "${#DBS[@]}" ]]
}

ensure_databases() {
  local d t0=$SECONDS
  for d in "${DBS[@]}"; do
    mysql_root -e "CREATE DATABASE IF NOT EXISTS \`$NOVA_CP_DB_PREFIX$d\` CHARACTER SET utf8"
  done
  schemas_synced && return 0
  say "syncing schemas (${NOVA_CP_DB_PREFIX}*; log $LOG/db-sync.log)"
  # Two lanes, one per core: cells and the cell0 schema need nothing but
  # their own database, so neither waits for the other.
  (
    nova_manage --config-file "$ETC/nova.conf" api_db sync
    nova_manage --config-file "$ETC/nova.conf" cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)"
    # 2: a cell with this transport and database exists already.
    nova_manage --config-file "$ETC/nova.conf" cell_v2 create_cell --name cell1 || [[ $? == 2 ]]
    placement-manage --config-file "$ETC/placement/placement.conf" db sync
  ) >"$LOG/db-sync.log" 2>&1 &
  local lane_a=$!
  (
    nova_manage --config-file "$ETC/nova.conf" db sync --local_cell
    nova_manage --config-file "$ETC/nova.conf" --config-file "$ETC/nova-cell0.conf" db sync --local_cell
    "$PY" -c 'import sys; from glance.cmd.manage import main; sys.exit(main())' --config-file "$ETC/glance-api.conf" db_sync
  ) >"$LOG/db-sync-2.log" 2>&1 &
  local lane_b=$!
  wait "$lane_a" || fail_service db-sync "failed"
  wait "$lane_b" || fail_service db-sync-2 "failed"
  echo "$NOVA_CP_DB_PREFIX" >"$NOVA_CP_DIR/db-synced"
  say "schemas synced in $((SECONDS - t0)) s"
}

drop_databases() {
  local d
  port_busy 3306 || return 0
  for d in "${DBS[@]}"; do mysql_root -e "DROP DATABASE IF EXISTS \`$NOVA_CP_DB_PREFIX$d\`"; done
}
