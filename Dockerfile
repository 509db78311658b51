# The hostwall worker: Node 20 on Debian with libvirt0 (koffi loads libvirt.so.0).
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvirt0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/hostwall
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
RUN npx tsc -p . && npm prune --omit=dev
ENV HOSTWALL_LOG_FORMAT=json
ENTRYPOINT ["node", "bin/hostwall"]
CMD ["worker"]
