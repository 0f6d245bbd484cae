# syntax=docker/dockerfile:1
# lockring server image: multi-stage, production dependencies only, non-root.
#   docker build -t lockring .
#   docker run -p 7420:7420 -v lockring-data:/data lockring

# --- build: compile TypeScript with the dev dependencies -----------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- deps: production dependencies only -----------------------------------------
FROM node:24-bookworm-slim AS deps
WORKDIR /app
# The workspace's manifest too: npm ci refuses a lockfile naming a missing workspace.
# The server never loads the client package (only `lockring/client` users do).
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ------------------------------------------------------------------
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    LOCKRING_HOST=0.0.0.0 \
    LOCKRING_PORT=7420 \
    LOCKRING_DATA_DIR=/data \
    LOCKRING_LOG_FORMAT=json
# Inside a container lockring must listen on 0.0.0.0 to be reachable, and without
# auth it refuses to (see docs/operations.md, "Safe default"). This image opts out
# so that `docker run` works out of the box on a trusted network. PRODUCTION: mount
# a token file and set LOCKRING_AUTH_FILE=/run/secrets/lockring-tokens.json and
# LOCKRING_INSECURE_NO_AUTH_ON_PUBLIC_ADDRESS=false instead.
ENV LOCKRING_INSECURE_NO_AUTH_ON_PUBLIC_ADDRESS=true
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 7420
# node, not curl: the slim image has no curl. /healthz answers while the process is up.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LOCKRING_PORT||7420)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM (docker stop) drains and exits 0; give it more than LOCKRING_SHUTDOWN_GRACE
# (docker stop -t 15, or stop_grace_period in compose).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli/main.js", "serve"]
