# rke2_remove: take this one machine out of its RKE2 cluster: stop the agent, uninstall.
set -e
if have systemctl; then systemctl stop rke2-agent 2>/dev/null || true; fi
if [ -x /usr/local/bin/rke2-uninstall.sh ]; then /usr/local/bin/rke2-uninstall.sh
elif [ -x /usr/bin/rke2-uninstall.sh ]; then /usr/bin/rke2-uninstall.sh
else echo "rke2: not installed"; fi
echo "rke2: removed"
