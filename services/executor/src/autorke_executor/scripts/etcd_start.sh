# etcd_start [NAME]: start the etcd container of this node and wait until it runs (idempotent).
set -e
require_etcd_node
etcd_running || docker start "$CONTAINER" >/dev/null
for _ in $(seq 1 30); do
  etcd_running && { echo "etcd: running"; exit 0; }
  sleep 1
done
echo "etcd: $CONTAINER did not start" >&2
exit 1
