# syntax=docker/dockerfile:1
# The operator image: compiled TypeScript on Node.js 24 in a distroless runtime (no shell, no npm,
# no package manager), production dependencies only, a non-root numeric user (runAsNonRoot can
# verify it), and SIGTERM as the stop signal (the operator releases its Lease and stops cleanly).
# Build: docker build -t <registry>/btp-cert-operator:<version> .   (README "Install in a cluster")
# The base images are pinned by tag, not digest: pin them by digest in your build
# (docker buildx imagetools inspect <image> prints it) if your policy asks for it.
ARG NODE_VERSION=24.21.0

# Compiles src/ to dist/ with the dev dependencies (TypeScript).
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# The production dependencies alone, installed from the lockfile (no dev dependency ever installed).
FROM node:${NODE_VERSION}-bookworm-slim AS dependencies
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts

# The runtime: distroless Node.js 24 (Debian 12), its nonroot variant (uid/gid 65532).
FROM gcr.io/distroless/nodejs24-debian12:nonroot
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=dependencies /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
EXPOSE 8080 8081
STOPSIGNAL SIGTERM
# --max-semi-space-size=2: a young generation of 2 MB semi-spaces. With V8's default, new space
# grew to 128 MB under the allocation of an issuance wave, never returned: at 1,000
# certificates 393 MB peak with the default, 285 MB with this, CPU per certificate alike
# (docs/development/scale.md).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "dist/start.js"]
