# syntax=docker/dockerfile:1
# Build stage: dev dependencies and the TypeScript compiler stay here.
FROM node:26-slim AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The service only: the SDK and the CLI (sdk/) are for ums's callers, not part of the image.
RUN npm run build:service

# Runtime stage: compiled JS and production dependencies only, tini as PID 1, non-root user.
FROM node:26-slim
ARG COMMIT_SHA=unknown
LABEL name="ums" \
      description="User Manager Service: users kept consistent across the CRUD Service and the auth service" \
      eu.mia-platform.url="https://www.mia-platform.eu" \
      eu.mia-platform.version="0.1.0"
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    LOG_LEVEL=info \
    HTTP_PORT=3000
WORKDIR /home/node/app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /build/dist ./dist
COPY CHANGELOG.md ./
RUN echo "${COMMIT_SHA}" > commit.sha
USER node
EXPOSE ${HTTP_PORT}
# Slim images have no wget/curl: Node's own fetch probes the liveness route.
HEALTHCHECK --start-period=5s --interval=30s --timeout=5s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||3000)+'/-/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--"]
# Exec form: node gets the signals tini forwards (a shell in between would die on SIGTERM and
# leave node to be killed without its graceful close and job hand-over).
CMD ["node", "dist/index.js"]
