# etcd_snapshot NAME: snapshot this etcd node's data directory to $SNAPSHOTS/NAME.tar.gz,
# marked as made by this change (AUTORKE_CHANGE_ID, in $SNAPSHOTS/.NAME.owner). A name
# another change (or a person) already took is refused and nothing is changed; a re-run of
# this change's own step finds its snapshot and changes nothing. The last line is JSON
# {"name", "file", "created"}: created is true when the file there is this change's.
set -e
name=$(snapshot_name "${1-}")
owner=$(change_id)
require_etcd_node
file="$SNAPSHOTS/$name.tar.gz"
mark=$(owner_mark "$name")
report() {  # report CREATED
  local n f
  json_str_v n "$name"
  json_str_v f "$file"
  printf '{"name":%s,"file":%s,"created":%s}\n' "$n" "$f" "$1"
}
refuse() {
  echo "etcd: snapshot name $name is taken on this node (a snapshot, or another change making one): refused, nothing changed" >&2
  report false
  exit 1
}
if [ -e "$file" ]; then
  if made_by "$name" "$owner"; then echo "etcd: snapshot $name (made by this change) exists: kept"; report true; exit 0; fi
  refuse
fi
etcd_running || { echo "etcd: $CONTAINER is not running: no snapshot" >&2; exit 1; }
[ -d "$DATA" ] || { echo "etcd: no data directory $DATA" >&2; exit 1; }
mkdir -p "$SNAPSHOTS"
umask 077
part="$SNAPSHOTS/.$name.$owner.part"
trap 'rm -f "$part" "$part.owner"' EXIT
if ! made_by "$name" "$owner"; then  # take the name: ln never replaces another's mark
  printf '%s\n' "$owner" > "$part.owner"
  ln "$part.owner" "$mark" 2>/dev/null || refuse
fi
tar -czf "$part" -C "$DATA" .
ln "$part" "$file" 2>/dev/null || { rm -f "$mark"; refuse; }  # made meanwhile by someone else
echo "etcd: snapshot $name saved ($(wc -c < "$file") bytes, sha256 $(sha256sum "$file" | cut -d' ' -f1))"
report true
