"""Provisioner stand-ins that work through SSH and the Kubernetes API like the real ones:
``rke`` (RKE1, on the control host) and the RKE2 install/agent (on each machine)."""
