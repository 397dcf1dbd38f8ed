# rke2_join: join this one machine to an RKE2 cluster as an agent. stdin after this script
# is never read; the config (server, token, node-name, labels, taints) arrives in a
# separate command on stdin and is already at /etc/rancher/rke2/config.yaml (mode 0600).
# Argument 1: the install command to run (the executor's rke2_install_command setting).
set -e
test -s /etc/rancher/rke2/config.yaml
bash -c "$1"
systemctl enable rke2-agent
systemctl start rke2-agent
echo "rke2: agent enabled and started"
