# peerflow node image. Build: docker build -t peerflow .
# Run:   docker run -v peerflow-data:/data -p 4433:4433/udp -p 4433:4433/tcp peerflow
FROM node:24-slim AS build
# Native addons (hnswlib-node, classic-level, the int8 HNSW index) compile here, not in the runtime image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The image may run on other CPUs than the one building it: no CPU-specific vector addon builds
# (node/bin/tune-vector-addon.js, node/bin/build-quantized-index.js; the int8 kernels still pick
# AVX-512 or AVX2 at run time).
ENV PEERFLOW_PORTABLE_NATIVE=1
COPY package.json package-lock.json ./
COPY node/bin/tune-vector-addon.js node/bin/build-quantized-index.js ./node/bin/
COPY src/reasoningbank/native ./src/reasoningbank/native
# With dev dependencies: the build needs TypeScript. (`prepare` finds no sources yet and says so.)
RUN npm install --no-audit --no-fund
COPY bootstrap.json tsconfig.json tsconfig.build.json ./
COPY node ./node
COPY protocols ./protocols
COPY crdt ./crdt
COPY src ./src
# The node runs the compiled dist/ (node/bin/peerflow.js picks it while it is current), then the
# dev dependencies go.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production \
    PEERFLOW_DATA=/data
WORKDIR /app
COPY --from=build /app /app
# /data holds the node's identity and replicated memory; /shared is where docker-compose.yml mounts
# the volume that carries the bootstrap list from the bootstrap node's setup to the workers.
RUN mkdir -p /data /shared && chown node:node /data /shared
USER node
VOLUME ["/data"]
# QUIC (primary), TCP (fallback), control API.
EXPOSE 4433/udp 4433/tcp 7433/tcp
# Healthy while the control API answers (`peerflow status` honours PEERFLOW_API and PEERFLOW_API_TOKEN).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "node/bin/peerflow.js", "status"]
# The same start command as `npm start`: the bin runs dist/ and re-executes itself with its V8 flags.
CMD ["node", "node/bin/peerflow.js", "start"]
