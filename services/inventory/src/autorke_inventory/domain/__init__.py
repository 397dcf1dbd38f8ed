"""The inventory's rules, without I/O: lifecycle, roles, sync decisions, node matching,
cluster.yml rendering and validation, secret redaction."""
