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
# The change this run belongs to (the executor sets AUTORKE_CHANGE_ID from the job): a
# snapshot records the change that made it in $SNAPSHOTS/.NAME.owner (hidden: a snapshot
# name never begins with '.'), and only that change's compensation removes it.
change_id() {
  local id=${AUTORKE_CHANGE_ID-}
  case "$id" in
    ''|*[!A-Za-z0-9._:-]*) echo "etcd: no change id (AUTORKE_CHANGE_ID): a snapshot belongs to a change" >&2; exit 2 ;;
  esac
  printf '%s' "$id"
}
owner_mark() { printf '%s/.%s.owner' "$SNAPSHOTS" "$1"; }
made_by() { [ "$(cat "$(owner_mark "$1")" 2>/dev/null)" = "$2" ]; }  # made_by NAME CHANGE
etcd_running() { docker ps --format '{{.Names}}' 2>/dev/null | grep -qx "$CONTAINER"; }
etcd_present() { docker ps -a --format '{{.Names}}' 2>/dev/null | grep -qx "$CONTAINER"; }
require_etcd_node() {
  etcd_present || { echo "etcd: no $CONTAINER container on this machine: not an etcd node" >&2; exit 3; }
}
