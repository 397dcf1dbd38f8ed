# init: prepare a machine for Kubernetes with one profile (argument 1):
#   base              kernel modules and sysctls for Kubernetes networking, swap off
#   container-runtime base, then the container runtime enabled and started
#   gpu               container-runtime, then the GPU driver checked (nvidia-smi must answer)
# Only ever run after the executor's probe found no Kubernetes component (P2).
profile=${1:?profile}
case "$profile" in base|container-runtime|gpu) ;; *) echo "unknown profile: $profile" >&2; exit 2 ;; esac
set -e
mkdir -p /etc/sysctl.d /etc/modules-load.d
printf 'overlay\nbr_netfilter\n' > /etc/modules-load.d/autorke-k8s.conf
printf 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n' \
  > /etc/sysctl.d/90-autorke-k8s.conf
echo "init: kernel settings written"
swapoff -a 2>/dev/null || true
if [ "$profile" != base ]; then
  if have systemctl; then systemctl enable docker >/dev/null 2>&1 || true; fi
  docker info >/dev/null
  echo "init: container runtime ready"
fi
if [ "$profile" = gpu ]; then
  nvidia-smi -L
  echo "init: gpu driver answers"
fi
mkdir -p /var/lib/autorke
printf '%s\n' "$profile" > /var/lib/autorke/init-profile
echo "init: profile $profile done"
