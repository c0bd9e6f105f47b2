# bottega worker image (used by docker-compose.yml). Runs the TypeScript sources through tsx.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV BOTTEGA_HOME=/var/lib/bottega \
    BOTTEGA_WORKER_CAPABILITIES=cpu
CMD ["node", "--import", "tsx", "workers/main.ts"]
