# The delivery worker (and the `delivery` CLI) for production; see docker-compose.yml.
FROM node:20-bookworm-slim
# better-sqlite3 compiles when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund
ENV TEMPORAL_TASK_QUEUE=email-deliveries
CMD ["npm", "run", "worker"]
