"""The single source of truth about machines and clusters: CMDB sync, machine facts and lifecycle,
cluster membership (one cluster per machine, enforced by the database), and versioned cluster configs.
"""
