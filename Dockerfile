# The delivery worker (and the `delivery` CLI) for production; see docker-compose.yml.
FROM node:20-bookworm-slim
# better-sqlite3 compiles when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# .dockerignore keeps .env and any key out of the image (and out of every layer).
COPY . .
RUN npm ci --no-audit --no-fund
# Workflows bundled at build time: workers then start fast and without webpack's memory.
RUN npm run worker:bundle -- /app/workflow-bundle.js
ENV TEMPORAL_TASK_QUEUE=email-deliveries WORKFLOW_BUNDLE_PATH=/app/workflow-bundle.js
# Not root: the image's files stay read-only to the process; it writes only its data folder (DATA_DIR).
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
# The worker is PID 1 itself (not npm): the SIGTERM of `docker compose stop` reaches it, and it winds down gracefully.
CMD ["node", "--import", "tsx", "worker/main.ts"]
