# etcd_health [NAME]: this etcd member runs and has its data; where the container has
# etcdctl, the endpoint answers healthy too.
set -e
require_etcd_node
etcd_running || { echo "etcd: $CONTAINER is not running" >&2; exit 1; }
[ -d "$DATA" ] || { echo "etcd: no data directory $DATA" >&2; exit 1; }
if docker exec "$CONTAINER" etcdctl version >/dev/null 2>&1; then
  docker exec "$CONTAINER" etcdctl endpoint health
fi
echo "etcd: healthy"
