# regiondns: multi-stage build on Node 24 slim, running as a non-root user.

FROM node:24-slim AS build
# A C compiler for the udp-batch addon (batched UDP: recvmmsg/sendmmsg); npm ci compiles it against
# the node-api-headers package and this Node's own headers (/usr/local/include/node).
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
# Full install (TypeScript is a dev dependency), the addon (build/), and compile to dist/.
# The addon must have been built: an image without it would quietly serve on node:dgram.
RUN npm ci --no-audit --no-fund && node -e "require('./build/udp_batch.node')"

FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` builds from source, and the build stage already did that.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/build ./build
COPY bin ./bin
COPY zones /etc/regiondns/zones
COPY geo /app/geo
# Overrides (drains, weights, ramps, tenants) and the audit of a Redis-less instance survive restarts in
# this volume (the state database, regiondns.db; a state.json left by an earlier version is imported).
RUN mkdir -p /var/lib/regiondns && chown node:node /var/lib/regiondns && chmod 0700 /var/lib/regiondns
USER node
VOLUME ["/etc/regiondns/zones", "/var/lib/regiondns"]
EXPOSE 53/udp 53/tcp 8053/tcp
# Binding port 53 as non-root: run with --sysctl net.ipv4.ip_unprivileged_port_start=53
# (or map a high port: -p 53:5353/udp -p 53:5353/tcp and --listen 0.0.0.0:5353).
# Readiness, not mere liveness: zones loaded and every DNS worker serving.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8053/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The ops listener binds 0.0.0.0 inside the container so Docker can forward to it. Publish it on the
# host's loopback only (-p 127.0.0.1:8053:8053, never -p 8053:8053) and give it tokens
# (-e REGIONDNS_OPS_TOKENS="ops:$(openssl rand -hex 32)", or --ops-tokens FILE from a secret);
# without tokens every change is refused.
ENTRYPOINT ["node", "/app/bin/regiondns.js"]
CMD ["serve", "--zones", "/etc/regiondns/zones", "--listen", "0.0.0.0:53", "--http", "0.0.0.0:8053", "--state-dir", "/var/lib/regiondns"]
