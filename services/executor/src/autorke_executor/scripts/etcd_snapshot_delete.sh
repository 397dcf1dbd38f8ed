# etcd_snapshot_delete NAME: the etcd.snapshot step's compensation. Removes snapshot NAME
# only when this change made it (its mark names AUTORKE_CHANGE_ID), with the mark and this
# change's unfinished part; a snapshot of that name made by anyone else is kept untouched.
set -e
name=$(snapshot_name "${1-}")
owner=$(change_id)
rm -f "$SNAPSHOTS/.$name.$owner.part" "$SNAPSHOTS/.$name.$owner.part.owner"
if ! made_by "$name" "$owner"; then
  echo "etcd: snapshot $name was not made by this change: kept"
  exit 0
fi
rm -f "$SNAPSHOTS/$name.tar.gz"
rm -f "$(owner_mark "$name")"
echo "etcd: snapshot $name (made by this change) removed"
