# etcd_snapshot NAME: snapshot this etcd node's data directory to $SNAPSHOTS/NAME.tar.gz.
# An existing snapshot of that name is kept (a re-run of the same step changes nothing).
set -e
name=$(snapshot_name "${1-}")
require_etcd_node
etcd_running || { echo "etcd: $CONTAINER is not running: no snapshot" >&2; exit 1; }
[ -d "$DATA" ] || { echo "etcd: no data directory $DATA" >&2; exit 1; }
file="$SNAPSHOTS/$name.tar.gz"
mkdir -p "$SNAPSHOTS"
if [ -s "$file" ]; then echo "etcd: snapshot $name exists already: kept"; exit 0; fi
umask 077
tar -czf "$file.part" -C "$DATA" .
mv "$file.part" "$file"
echo "etcd: snapshot $name saved ($(wc -c < "$file") bytes, sha256 $(sha256sum "$file" | cut -d' ' -f1))"
