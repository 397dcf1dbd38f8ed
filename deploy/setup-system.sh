#!/usr/bin/env bash
# Installs the system packages AutoRKE's lab and tests need, from Debian's packages,
# only when missing (so a machine that has them pays nothing). Run as root; elsewhere it
# says what is missing and carries on, and the lab falls back or the tests say why.
set -euo pipefail

need=()
command -v /usr/sbin/sshd >/dev/null 2>&1 || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
# Extra packages named by other parts of the tree (one per line, # comments allowed).
if [ -f "$(dirname "$0")/system-packages.txt" ]; then
  while read -r pkg _; do
    case "$pkg" in ""|\#*) continue ;; esac
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done < "$(dirname "$0")/system-packages.txt"
fi

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup-system: not root; missing Debian packages: ${need[*]}" >&2
  exit 0
fi
echo "setup-system: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts the system sshd on install; the lab runs its own, so leave it as it was found
# only if it was running before. A fresh install is stopped to keep port 22 free.
if printf '%s\n' "${need[@]}" | grep -qx openssh-server; then
  (command -v systemctl >/dev/null && systemctl disable --now ssh 2>/dev/null) || true
  [ -f /run/sshd.pid ] && kill "$(cat /run/sshd.pid)" 2>/dev/null || true
fi
