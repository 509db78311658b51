#!/usr/bin/env bash
# Installs what hostwall needs on a fresh Debian machine, idempotently:
#   Debian's libvirt0 (and, with --test, the real peers the compatibility
#   tests run against), a RabbitMQ answering on 127.0.0.1:5672, the npm
#   packages, and the compiled code. Safe to run again: it only does what is
#   missing. Needs root (or sudo) only when something must be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=run
[[ "${1:-}" == "--test" ]] && MODE=test

say() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# Debian packages: the runtime needs libvirt0; the tests also need the real
# peers (oslo.messaging, Nova's RPC client, Placement, libvirt's Python
# bindings, virsh) and the RabbitMQ plugins' CLI.
# better-sqlite3 (the intent store) compiles at install: g++, make, python3.
PKGS=(libvirt0 build-essential python3)
if [[ $MODE == test ]]; then
  # libvirtd hosts the test driver behind a socket (test+unix://, state that
  # outlives a worker: the fault suite) and runs QEMU guests under TCG (the
  # real-hypervisor tier). python3-fusepy mounts a filesystem whose file never
  # answers, as on a hung NFS server (test/support/hung_fs.py).
  PKGS+=(libvirt-clients libvirt-daemon-system qemu-system-x86 openssl python3-oslo.messaging python3-nova python3-libvirt python3-jsonschema python3-placement docker-compose python3-fusepy)
  # The tiny Linux guest of the QEMU tier (test/support/tiny-guest/) is a FAT
  # disk image made with mtools and made bootable by SYSLINUX; its kernel and
  # busybox are fetched with apt-get download at test time, never installed.
  PKGS+=(mtools syslinux)
  # The real Nova control plane of the compatibility tests and the benchmark
  # (scripts/nova-control-plane.sh, which starts MariaDB itself when needed).
  PKGS+=(python3-glance python3-pymysql mariadb-server mariadb-client curl)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
broker_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if ! broker_up && ! command -v rabbitmq-server >/dev/null; then missing+=(rabbitmq-server); fi
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# RabbitMQ: start it if nothing answers (no systemd on these machines).
if ! broker_up; then
  say "starting rabbitmq-server"
  as_root rabbitmq-server -detached
  for _ in $(seq 1 60); do broker_up && break; sleep 1; done
  as_root rabbitmqctl await_startup >/dev/null 2>&1 || true
  broker_up || { say "RabbitMQ did not come up on 127.0.0.1:5672"; exit 1; }
fi

# AMQP 1.0 on RabbitMQ 3.x is a plugin (same port); hostwall's amqp10:// URLs need it.
if command -v rabbitmq-plugins >/dev/null; then
  rabbitmq-plugins -q list -e -m 2>/dev/null | grep -qx rabbitmq_amqp1_0 || { say "enabling rabbitmq_amqp1_0"; as_root rabbitmq-plugins enable rabbitmq_amqp1_0 >/dev/null; }
fi

# The tests' libvirt daemon (no systemd here: started by hand, idempotently).
if [[ $MODE == test ]]; then
  alive() { [[ -f $1 ]] && as_root kill -0 "$(cat "$1")" 2>/dev/null; }
  as_root mkdir -p /var/log/libvirt
  alive /run/virtlogd.pid || { say "starting virtlogd"; as_root virtlogd -d; }
  alive /run/libvirtd.pid || { say "starting libvirtd"; as_root libvirtd -d -p /run/libvirtd.pid; }
  for _ in $(seq 1 50); do virsh -c test+unix:///default uri >/dev/null 2>&1 && break; sleep 0.2; done
fi

# npm packages, when missing or when the lock file changed since the last install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm packages"
  # node-gyp builds better-sqlite3 against Debian's Node headers (no download).
  [[ -d /usr/include/node ]] && export npm_config_nodedir=/usr
  npm ci --no-audit --no-fund --loglevel=error
fi

say "compiling"
npx tsc -p .
