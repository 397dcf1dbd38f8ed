# etcd_restore NAME: put snapshot NAME back as this node's data directory. etcd must be
# stopped (the flow's previous step); the data directory it replaces is kept beside it as
# $DATA.pre-restore (replacing an older one) for a manual return.
set -e
name=$(snapshot_name "${1-}")
require_etcd_node
etcd_running && { echo "etcd: $CONTAINER is running: stop it before a restore" >&2; exit 1; }
file="$SNAPSHOTS/$name.tar.gz"
[ -s "$file" ] || { echo "etcd: snapshot $name not found in $SNAPSHOTS" >&2; exit 1; }
rm -rf "$DATA.restoring"
mkdir -p "$DATA.restoring"
chmod 700 "$DATA.restoring"
tar -xzf "$file" -C "$DATA.restoring"
if [ -d "$DATA" ]; then rm -rf "$DATA.pre-restore"; mv "$DATA" "$DATA.pre-restore"; fi
mv "$DATA.restoring" "$DATA"
echo "etcd: snapshot $name restored into $DATA (previous data in $DATA.pre-restore)"
