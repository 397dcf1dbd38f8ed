"""The only component that touches machines and clusters: SSH jobs with paramiko behind a blast-radius
fence, Kubernetes API jobs and provisioner runs.
"""
