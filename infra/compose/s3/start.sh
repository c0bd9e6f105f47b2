#!/bin/sh
# Entrypoint of the `seaweedfs` service (chrislusf/seaweedfs or the local build): master, volume,
# filer and S3 gateway in one process; one identity with the credentials from the environment.
set -eu
: "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}"
cfg=/tmp/s3-identities.json
umask 077
printf '{"identities":[{"name":"bottega","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
  "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$cfg"
exec weed -logtostderr server -dir=/data -ip="$(hostname)" -ip.bind=0.0.0.0 \
  -filer -s3 -s3.port=8333 -s3.config="$cfg" -s3.port.iceberg=0 -s3.port.lance=0 \
  -master.volumeSizeLimitMB="${S3_VOLUME_SIZE_MB:-1024}" -volume.max=0 -master.telemetry=false
