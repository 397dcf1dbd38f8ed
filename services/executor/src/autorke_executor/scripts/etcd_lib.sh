# etcd_lib: shared by the etcd_* scripts (prepended after lib.sh and probe.sh). RKE1 runs
# etcd as the docker container "etcd" with its data in /var/lib/etcd on the host, and keeps
# local snapshots in /opt/rke/etcd-snapshots. Argument 1 of every etcd script is the
# snapshot name: letters, digits, '.', '_', '-', never a path.
#
# A snapshot here is the etcd data directory as a gzip'd tar, "<name>.tar.gz", taken by
# the etcd node itself; restore puts it back with etcd stopped, keeping the previous data
# directory beside it (<data>.pre-restore). This touches nothing but the etcd node (P6),
# unlike `rke etcd snapshot-restore`, which cleans and rebuilds every node.
SNAPSHOTS=${ETCD_SNAPSHOT_DIR:-/opt/rke/etcd-snapshots}
DATA=${ETCD_DATA_DIR:-/var/lib/etcd}
CONTAINER=${ETCD_CONTAINER:-etcd}
snapshot_name() {
  local name=${1-}
  case "$name" in
    ''|.*|*/*|*[!A-Za-z0-9._-]*) echo "etcd: bad snapshot name '$name'" >&2; exit 2 ;;
  esac
  printf '%s' "$name"
}
etcd_running() { docker ps --format '{{.Names}}' 2>/dev/null | grep -qx "$CONTAINER"; }
etcd_present() { docker ps -a --format '{{.Names}}' 2>/dev/null | grep -qx "$CONTAINER"; }
require_etcd_node() {
  etcd_present || { echo "etcd: no $CONTAINER container on this machine: not an etcd node" >&2; exit 3; }
}
