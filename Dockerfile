# The delivery worker (and the `delivery` CLI) for production; see docker-compose.yml.
FROM node:20-bookworm-slim
# better-sqlite3 compiles when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# .dockerignore keeps .env and any key out of the image (and out of every layer).
COPY . .
RUN npm ci --no-audit --no-fund
# Workflows bundled at build time: workers then start fast and without webpack's memory. The engine compiled to
# dist/: a worker run from JavaScript takes ~100 MB less memory than through tsx.
RUN npm run worker:bundle -- /app/workflow-bundle.js && npm run build
# glibc would keep up to 8 malloc arenas per core for the worker's threads (Temporal's core, libuv, workflow and
# signing threads): 2 are enough and hold less memory.
ENV TEMPORAL_TASK_QUEUE=email-deliveries WORKFLOW_BUNDLE_PATH=/app/workflow-bundle.js MALLOC_ARENA_MAX=2
# Not root: the image's files stay read-only to the process; it writes only its data folder (DATA_DIR).
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
# The worker is PID 1 itself (not npm): the SIGTERM of `docker compose stop` reaches it, and it winds down gracefully.
# V8 collects the old generation when it grew 30% past what survived the last collection (not up to 4×, its default
# under a high allocation rate): the worker stays under 300 MB from 100k to 1M recipients, with no heap cap
# (BENCHMARKS.md, "Worker memory"). The flag is V8's, not Node's: it goes on the command line, not in NODE_OPTIONS.
CMD ["node", "--heap-growing-percent=30", "dist/worker/main.js"]
