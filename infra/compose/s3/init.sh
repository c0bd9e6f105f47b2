#!/bin/sh
# One-shot `s3-init` job: creates the bucket once SeaweedFS serves (idempotent).
set -eu
: "${S3_BUCKET:?}"
i=0
until echo "s3.bucket.list" | weed shell -master=seaweedfs:9333 >/tmp/buckets 2>&1 && ! grep -q 'error' /tmp/buckets; do
  i=$((i + 1))
  [ "$i" -le 60 ] || { echo "s3-init: SeaweedFS not ready after 120s: $(cat /tmp/buckets)" >&2; exit 1; }
  sleep 2
done
if grep -qw "$S3_BUCKET" /tmp/buckets; then
  echo "bucket $S3_BUCKET exists"
else
  echo "s3.bucket.create -name $S3_BUCKET" | weed shell -master=seaweedfs:9333
  echo "s3-init: bucket $S3_BUCKET created"
fi
