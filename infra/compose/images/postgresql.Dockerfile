# PostgreSQL 17 from Debian 13 (infra/compose/build-images.sh). Same contract as the postgres:17
# image: POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB on first start, data in PGDATA.
ARG BASE
FROM ${BASE}
ENV PATH=/usr/lib/postgresql/17/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY postgresql-entrypoint.sh /usr/local/bin/postgresql-entrypoint.sh
RUN chmod 755 /usr/local/bin/postgresql-entrypoint.sh && mkdir -p "$PGDATA" /run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /run/postgresql
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgresql-entrypoint.sh"]
CMD ["postgres"]
