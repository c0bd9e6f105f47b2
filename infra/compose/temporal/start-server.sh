#!/bin/sh
# Entrypoint of the `temporal` service (temporalio/server or the local build): every Temporal
# service in one process, configured from the environment by /etc/temporal/config/docker.yaml.
# Services bind all interfaces and advertise the container's own address to each other.
set -eu
ip=$(hostname -i 2>/dev/null | awk '{ print $1 }') || ip=
[ -n "$ip" ] || ip=$(getent hosts "$(cat /etc/hostname)" | awk '{ print $1; exit }')
export BIND_ON_IP=0.0.0.0 TEMPORAL_BROADCAST_ADDRESS="${TEMPORAL_BROADCAST_ADDRESS:-$ip}"
exec temporal-server --root /etc/temporal --env docker start
