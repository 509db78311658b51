# Background processes of nova-control-plane.sh (sourced by it). Each runs in
# a session of its own (setsid: its pid is its process group, so stopping it
# also stops the workers it forked), output to $LOG/NAME.log, and
# $RUN/NAME.pid holds "PID STARTTIME": a pid is ours only while the process
# with that pid has that start time, so a stale pid file never makes us
# signal someone else's process (titles and environ are no proof: oslo
# rewrites process titles).

starttime() {
  local stat rest
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat##*) }
  # shellcheck disable=SC2086
  set -- $rest
  echo "${20}"
}

# The pid of NAME when it runs, else nothing (and status 1).
pid_of() {
  local f=$RUN/$1.pid pid start
  [[ -f $f ]] || return 1
  read -r pid start <"$f" || return 1
  [[ -n ${pid:-} && -n ${start:-} && $(starttime "$pid" || true) == "$start" ]] || return 1
  echo "$pid"
}

alive() { pid_of "$1" >/dev/null; }

start_service() {
  local name=$1 pid
  shift
  alive "$name" && return 0
  [[ -f $LOG/$name.log ]] && mv -f "$LOG/$name.log" "$LOG/$name.log.1"
  # 8>&- 9>&-: the lock files' descriptors must not live on in the service.
  setsid "$@" </dev/null >"$LOG/$name.log" 2>&1 8>&- 9>&- &
  pid=$!
  echo "$pid $(starttime "$pid")" >"$RUN/$name.pid"
}

# SIGTERM to each process group, SIGKILL to what is left after 10 s: oslo
# services shut down in a few seconds (all at once, not one after the other);
# one that hangs must not hang `down`.
stop_services() {
  local name pid i
  local -a pids=()
  for name in "$@"; do
    if pid=$(pid_of "$name"); then
      kill -TERM -- "-$pid" 2>/dev/null || true
      pids+=("$pid")
      say "stopping $name ($pid)"
    fi
    rm -f "$RUN/$name.pid"
  done
  for ((i = 0; i < 100; i++)); do
    local left=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && left=1; done
    ((left)) || return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}

fail_service() {
  say "$1 $2; the end of $LOG/$1.log:"
  tail -n 25 "$LOG/$1.log" >&2 || true
  exit 1
}

# Waits until every service answers (HTTP ones by a GET, conductor and
# scheduler by an RPC ping), failing as soon as one of them exits.
await_services() {
  local deadline=$((SECONDS + $1)) s ping
  local -a pending=(neutron placement glance api) next
  "$PY" "$HERE/rpc_ping.py" "$TRANSPORT_URL" "$1" conductor scheduler >"$LOG/rpc-ping.log" 2>&1 &
  ping=$!
  while :; do
    for s in "${SERVICES[@]}"; do
      alive "$s" || { kill "$ping" 2>/dev/null || true; fail_service "$s" "exited"; }
    done
    next=()
    for s in "${pending[@]}"; do probe "$s" || next+=("$s"); done
    pending=("${next[@]}")
    if ((${#pending[@]} == 0)) && ! kill -0 "$ping" 2>/dev/null; then
      wait "$ping" || fail_service rpc-ping "conductor or scheduler did not answer an RPC ping"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      kill "$ping" 2>/dev/null || true
      fail_service "${pending[0]:-conductor}" "did not answer within $1 s"
    fi
    sleep 0.5
  done
}

# `up`, `down` and compute-start/stop of one state dir run one at a time
# (two mocha processes may call `up` together).
lock_state() {
  exec 9>"$NOVA_CP_DIR/.lock"
  flock -w 600 9 || die "another nova-control-plane.sh holds $NOVA_CP_DIR/.lock"
}

lock_file() {
  exec 8>"$1"
  flock -w 120 8 || die "timed out waiting for $1"
}

nova_manage() { "$PY" -c 'import sys; from nova.cmd.manage import main; sys.exit(main())' "$@"; }
