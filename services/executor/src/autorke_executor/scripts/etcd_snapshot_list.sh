# etcd_snapshot_list: the names of the snapshots this etcd node keeps ($SNAPSHOTS/*.tar.gz),
# as one JSON list on the last line. Changes nothing: etcd.snapshot's check that its name
# is free on every etcd node before anything is written.
set -e
require_etcd_node
names=()
for f in "$SNAPSHOTS"/*.tar.gz; do
  [ -e "$f" ] || continue
  f=${f##*/}
  names+=("${f%.tar.gz}")
done
json_list "${names[@]}"
echo
