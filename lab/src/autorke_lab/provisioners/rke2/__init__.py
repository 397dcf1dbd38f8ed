"""The RKE2 stand-in on each lab machine: an installer the executor runs over SSH, the
``rke2`` binary whose ``agent`` reads ``/etc/rancher/rke2/config.yaml`` and runs the
simulated kubelet, the ``rke2-agent`` unit for the machine's systemctl, and
``rke2-uninstall.sh``. Join tokens: :mod:`.token`; installer: :mod:`.install`."""
from .install import install_command
from .token import join_token

__all__ = ["install_command", "join_token"]
