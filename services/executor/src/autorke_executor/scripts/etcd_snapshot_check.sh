# etcd_snapshot_check NAME: the snapshot exists here and is a readable archive.
set -e
name=$(snapshot_name "${1-}")
require_etcd_node
file="$SNAPSHOTS/$name.tar.gz"
[ -s "$file" ] || { echo "etcd: snapshot $name not found in $SNAPSHOTS" >&2; exit 1; }
tar -tzf "$file" >/dev/null || { echo "etcd: snapshot $name is not a readable archive" >&2; exit 1; }
echo "etcd: snapshot $name present"
