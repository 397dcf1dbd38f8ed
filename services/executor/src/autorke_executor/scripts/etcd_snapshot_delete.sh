# etcd_snapshot_delete NAME: remove the snapshot (the etcd.snapshot step's compensation).
set -e
name=$(snapshot_name "${1-}")
rm -f "$SNAPSHOTS/$name.tar.gz" "$SNAPSHOTS/$name.tar.gz.part"
echo "etcd: snapshot $name removed"
