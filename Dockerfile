# The hostwall worker on Node 22 LTS (Debian 12) with libvirt0 (koffi loads
# libvirt.so.0). Two stages: the first compiles better-sqlite3 (g++, make,
# python3) and the TypeScript; the image keeps only what runs.
#
#   docker build -t hostwall .
#   docker run -e AMQP_URL=amqp://user:pass@broker:5672 -e HOSTWALL_HOST=compute-1 \
#     -v hostwall-state:/var/lib/hostwall hostwall
#
# A real hypervisor (qemu:///system) is reached through libvirtd's socket,
# which Debian makes root:libvirt 0660; the worker runs as the non-root user
# `hostwall`, so give the container the host's libvirt group and the socket:
#   --group-add "$(getent group libvirt | cut -d: -f3)" \
#   -v /var/run/libvirt/libvirt-sock:/var/run/libvirt/libvirt-sock \
#   -e HOSTWALL_LIBVIRT_URI=qemu:///system
# (README "Running it as a service"). Stop it with a grace longer than
# HOSTWALL_SHUTDOWN_TIMEOUT (30 s): `docker stop -t 45`.
FROM node:22-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/hostwall
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvirt0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system hostwall \
 && useradd --system --gid hostwall --home-dir /var/lib/hostwall --shell /usr/sbin/nologin hostwall \
 && mkdir -p /var/lib/hostwall/instances \
 && chown -R hostwall:hostwall /var/lib/hostwall
WORKDIR /opt/hostwall
COPY --from=build /opt/hostwall/package.json ./
COPY --from=build /opt/hostwall/node_modules ./node_modules
COPY --from=build /opt/hostwall/bin ./bin
COPY --from=build /opt/hostwall/dist/src ./dist/src
# The intent store (intents-<host>.sqlite) and the guests' disks: they must
# outlive the container, or duplicates after a restart are applied again.
VOLUME ["/var/lib/hostwall"]
ENV HOSTWALL_LOG_FORMAT=json \
    HOSTWALL_STATE_PATH=/var/lib/hostwall \
    HOSTWALL_INSTANCES_PATH=/var/lib/hostwall/instances \
    HOSTWALL_HTTP_ADDRESS=127.0.0.1:9464
USER hostwall
# Ready = connected to the broker, consuming, libvirt answering (GET /readyz).
HEALTHCHECK --interval=15s --timeout=6s --start-period=60s --retries=3 \
  CMD ["node", "dist/src/cli/ready-probe.js"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/hostwall"]
CMD ["worker"]
