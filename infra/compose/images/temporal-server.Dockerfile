# Temporal server and admin tools, built from go.temporal.io/server (infra/compose/build-images.sh).
# Laid out like temporalio/server and temporalio/admin-tools: /etc/temporal/config/docker.yaml
# (env-driven template), the PostgreSQL schema under /etc/temporal/schema, binaries on PATH.
ARG BASE
FROM ${BASE}
COPY temporal-server temporal-sql-tool temporal /usr/local/bin/
COPY config /etc/temporal/config
COPY schema /etc/temporal/schema
RUN useradd --system --uid 1000 --home-dir /etc/temporal temporal \
 && chmod 755 /usr/local/bin/temporal-server /usr/local/bin/temporal-sql-tool /usr/local/bin/temporal
WORKDIR /etc/temporal
USER temporal
EXPOSE 7233
ENTRYPOINT ["temporal-server", "--root", "/etc/temporal", "--env", "docker", "start"]
