# cleanup: return a machine (never a cluster member: the probe guard runs first, P2) to a
# clean state: stop and remove leftover containers, remove the init profile's files.
set -e
if have docker; then
  for id in $(docker ps -a -q 2>/dev/null); do docker rm -f "$id" >/dev/null; echo "cleanup: removed container $id"; done
fi
rm -f /etc/modules-load.d/autorke-k8s.conf /etc/sysctl.d/90-autorke-k8s.conf
rm -rf /var/lib/autorke
echo "cleanup: done"
