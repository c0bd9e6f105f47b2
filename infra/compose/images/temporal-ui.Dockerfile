# Temporal Web UI server, built from github.com/temporalio/ui-server/v2 (infra/compose/build-images.sh).
# Laid out like temporalio/ui: /home/ui-server/ui-server with config/docker.yaml (env-driven).
ARG BASE
FROM ${BASE}
RUN useradd --uid 1000 --create-home --home-dir /home/ui-server temporal
COPY --chown=1000:1000 ui-server /home/ui-server/ui-server
COPY --chown=1000:1000 config /home/ui-server/config
WORKDIR /home/ui-server
USER temporal
EXPOSE 8080
ENTRYPOINT ["./ui-server", "--env", "docker", "start"]
