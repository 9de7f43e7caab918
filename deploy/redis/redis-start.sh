#!/bin/sh
# Start a Redis data node of the Sentinel set (compose and Kubernetes alike).
# As a replica of the master the Sentinels name; when none answers (the set's first
# start), FIRST_MASTER is the master and every other node replicates it.
# Environment: REDIS_PASSWORD, SENTINEL_PASSWORD, ANNOUNCE_HOST (this node's name as the
# others reach it), FIRST_MASTER, SENTINELS ("host host host", port 26379),
# MASTER_NAME (default compoundeye), REDIS_CONF (default /tmp/redis.conf), REDIS_DIR
# (default /data).
set -eu
name="${MASTER_NAME:-compoundeye}"
master=""
for host in $SENTINELS; do
  reply="$(REDISCLI_AUTH="$SENTINEL_PASSWORD" timeout 3 redis-cli -h "$host" -p 26379 \
    sentinel get-master-addr-by-name "$name" 2>/dev/null | head -n 1)" || true
  if [ -n "$reply" ]; then master="$reply"; break; fi
done
if [ -z "$master" ] && [ "$ANNOUNCE_HOST" != "$FIRST_MASTER" ]; then
  master="$FIRST_MASTER"
fi
conf="${REDIS_CONF:-/tmp/redis.conf}"
umask 077
{
  echo "port 6379"
  echo "dir ${REDIS_DIR:-/data}"
  echo "appendonly yes"
  echo "maxmemory-policy noeviction"
  echo "replica-announce-ip $ANNOUNCE_HOST"
  echo "requirepass $REDIS_PASSWORD"
  echo "masterauth $REDIS_PASSWORD"
  if [ -n "$master" ] && [ "$master" != "$ANNOUNCE_HOST" ]; then
    echo "replicaof $master 6379"
  fi
} > "$conf"
exec redis-server "$conf"
