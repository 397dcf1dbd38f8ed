# etcd_stop [NAME]: stop the etcd container of this node (idempotent).
set -e
require_etcd_node
if etcd_running; then docker stop "$CONTAINER" >/dev/null; fi
echo "etcd: stopped"
