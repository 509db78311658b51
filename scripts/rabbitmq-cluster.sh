#!/bin/bash
# A private three-node RabbitMQ cluster on this machine, for the cluster suite
# (test/cluster) and `npm run bench:scale -- --cluster`.
#
#   scripts/rabbitmq-cluster.sh up|down|status
#
# Nodes hw1@localhost, hw2@localhost, hw3@localhost listen for AMQP on
# 127.0.0.1:5791, :5792, :5793 (distribution ports 25791-25793), data and logs
# under /var/tmp/hostwall-rmq-cluster/<node>. The node on 5672 (the shared
# broker) is never touched; the ports stay clear of the fault suite's private
# node (5682/5683) and of ../shared/scripts/rabbitmq-cluster.sh (5692/5702).
#
# Partition handling is pause_minority with net_ticktime 10 s: with three
# nodes, a node cut off from the other two (or paused longer than ~10-15 s)
# stops serving rather than accepting writes the majority never sees, and
# heals by itself when it can see them again (see README, "Clusters").
#
# up is idempotent: nodes already running are kept, missing ones are started
# (in parallel; a stopped one with its data) and new ones joined to hw1. down stops the nodes and deletes their data.
set -eu
BASE=/var/tmp/hostwall-rmq-cluster
NODES="hw1 hw2 hw3"
port() { echo $((5790 + ${1#hw})); }
ctl() { local n=$1; shift; rabbitmqctl -q -n "$n@localhost" "$@"; }
alive() { ctl "$1" ping >/dev/null 2>&1; }

# A node that ran before (its data is still there) restarts with it and
# rejoins the cluster by itself; a new one starts empty (and is joined below).
start_node() {
  local n=$1 d=$BASE/$1 p
  p=$(port "$n")
  if [ ! -d "$d/mnesia" ]; then
    mkdir -p "$d/mnesia" "$d/log"
    cat >"$d/rabbitmq.conf" <<CONF
listeners.tcp.local = 127.0.0.1:$p
cluster_partition_handling = pause_minority
loopback_users = none
CONF
    echo '[{kernel, [{net_ticktime, 10}]}].' >"$d/advanced.config"
    echo '[].' >"$d/enabled_plugins"
    chown -R rabbitmq:rabbitmq "$d"
    fresh="$fresh $n"
  fi
  RABBITMQ_NODENAME=$n@localhost RABBITMQ_NODE_PORT=$p RABBITMQ_DIST_PORT=$((20000 + p)) \
  RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf RABBITMQ_ADVANCED_CONFIG_FILE=$d/advanced.config \
  RABBITMQ_MNESIA_BASE=$d/mnesia RABBITMQ_LOG_BASE=$d/log RABBITMQ_PID_FILE=$d/pid \
  RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins \
  su rabbitmq -s /bin/sh -c "ulimit -n $(ulimit -Hn) 2>/dev/null; exec /usr/lib/rabbitmq/bin/rabbitmq-server -detached"
}

# Started as Debian's rabbitmq-server wrapper does (su to rabbitmq, which
# keeps the RABBITMQ_* environment), but with the open-files soft limit raised
# to the hard one: su leaves it at 1,024, RabbitMQ then allows 927 descriptors,
# and each quorum queue member holds some (its log segments): ~330 members a
# node used them up and the node stopped taking connections and answering
# rabbitmqctl (the 300- and 1,000-host bench:scale runs stalled there).
wait_node() {
  for _ in $(seq 1 240); do alive "$1" && break; sleep 0.5; done
  ctl "$1" await_startup
}

case "${1:-}" in
up)
  fresh=""
  for n in $NODES; do
    if ! alive "$n"; then start_node "$n"; fi
  done
  for n in $NODES; do wait_node "$n"; done
  for n in $fresh; do
    [ "$n" = hw1 ] && continue
    if ! ctl hw1 cluster_status --formatter json | grep -q "\"$n@localhost\""; then
      ctl "$n" stop_app
      ctl "$n" join_cluster hw1@localhost
      ctl "$n" start_app
    fi
  done
  for n in $NODES; do ctl "$n" await_startup; done
  echo "cluster up: amqp://guest:guest@127.0.0.1:5791,guest:guest@127.0.0.1:5792,guest:guest@127.0.0.1:5793/"
  ;;
down)
  # a paused (SIGSTOPped) node answers nothing: continue it first
  for n in $NODES; do [ -f "$BASE/$n/pid" ] && kill -CONT "$(cat "$BASE/$n/pid")" 2>/dev/null || true; done
  for n in $NODES; do (timeout 60 rabbitmqctl -q -n "$n@localhost" stop >/dev/null 2>&1 || true) & done
  wait
  for n in $NODES; do [ -f "$BASE/$n/pid" ] && kill -KILL "$(cat "$BASE/$n/pid")" 2>/dev/null || true; done
  rm -rf "$BASE"
  echo "cluster down"
  ;;
status)
  for n in $NODES; do
    if alive "$n"; then echo "$n@localhost: running on 127.0.0.1:$(port "$n")"; else echo "$n@localhost: down"; fi
  done
  alive hw1 && ctl hw1 cluster_status || true
  ;;
*) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
