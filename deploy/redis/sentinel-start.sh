#!/bin/sh
# Start one Sentinel of the set (compose and Kubernetes alike). Sentinel rewrites its own
# file, so it is made at each start, monitoring the master the other Sentinels name (or
# FIRST_MASTER on the set's first start). Quorum 2 of 3.
# Environment: REDIS_PASSWORD, SENTINEL_PASSWORD, ANNOUNCE_HOST, FIRST_MASTER, SENTINELS,
# MASTER_NAME (default compoundeye), DOWN_AFTER_MS (default 5000),
# SENTINEL_CONF (default /etc/sentinel/sentinel.conf).
set -eu
name="${MASTER_NAME:-compoundeye}"
master=""
for host in $SENTINELS; do
  [ "$host" = "$ANNOUNCE_HOST" ] && continue
  reply="$(REDISCLI_AUTH="$SENTINEL_PASSWORD" timeout 3 redis-cli -h "$host" -p 26379 \
    sentinel get-master-addr-by-name "$name" 2>/dev/null | head -n 1)" || true
  if [ -n "$reply" ]; then master="$reply"; break; fi
done
[ -n "$master" ] || master="$FIRST_MASTER"
conf="${SENTINEL_CONF:-/etc/sentinel/sentinel.conf}"
umask 077
cat > "$conf" <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $ANNOUNCE_HOST
requirepass $SENTINEL_PASSWORD
sentinel sentinel-pass $SENTINEL_PASSWORD
sentinel monitor $name $master 6379 2
sentinel auth-pass $name $REDIS_PASSWORD
sentinel down-after-milliseconds $name ${DOWN_AFTER_MS:-5000}
sentinel failover-timeout $name 60000
sentinel parallel-syncs $name 1
CONF
exec redis-sentinel "$conf"
