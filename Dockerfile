# bottega worker image (docker-compose.yml builds it for worker-cpu, worker-docker, worker-slurm).
# Runs the TypeScript sources through tsx (a runtime dependency): no build step.
FROM docker:29-cli AS docker-cli

FROM node:26-bookworm-slim
# git: mine/build check out repositories. openssh-client: the slurm worker's `ssh` backend.
# debootstrap: infra/images/build-base.sh makes the Python base image on the docker worker.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates openssh-client debootstrap \
 && rm -rf /var/lib/apt/lists/*
# Docker CLI only (the engine is the host's, through the mounted /var/run/docker.sock);
# build-base.sh calls `docker image inspect` and `docker import`.
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV BOTTEGA_HOME=/var/lib/bottega \
    BOTTEGA_WORKER_CAPABILITIES=cpu
CMD ["node", "--import", "tsx", "workers/main.ts"]
