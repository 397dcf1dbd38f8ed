"""The lab's CMDB: a generic HTTP/JSON configuration database of the data centre's machines.

It serves a deterministic inventory generated from the lab's seed (10,000 records by
default): the first records are the lab's running machines (their SSH address, port and
host key are real), the rest are records only. Served by the lab runtime on the CMDB port
(default 8201), next to the lab control API (``/lab/...``).

Endpoints (JSON)::

    GET  /api/v1/hosts?page=1&page_size=100[&include_retired=true]   classic paging, by id
         -> {"items": [HOST...], "page", "page_size", "total", "revision"}
    GET  /api/v1/hosts/changes?since=0&limit=500                      incremental cursor
         -> {"items": [HOST...], "since", "next_since", "has_more", "revision"}
         Records changed after revision ``since``, oldest change first; call again with
         ``since=next_since`` until ``has_more`` is false, keep ``next_since`` for the next
         sync. ``since=0`` is a full sync. Each record appears once, at its latest revision;
         retired records appear with ``"status": "retired"``.
    GET  /api/v1/hosts/{id or hostname}                               one record (404)
    POST /api/v1/hosts            {fields...}  -> 201 HOST   add (generated facts + fields)
    PATCH /api/v1/hosts/{id}      {fields...}  -> HOST       change (deep merge)
    POST /api/v1/hosts/{id}/retire             -> HOST       retire (also DELETE /hosts/{id})

HOST::

    {"id": "cmdb-000001", "hostname": "m001", "status": "active" | "retired",
     "revision": 17, "updated_at": "2026-01-01T00:00:00.000000Z",
     "idc": "idc-sh-01", "rack": "SH-R001", "rack_unit": 1,
     "owner": {"team": "search", "contact": "search-oncall@example.com"},
     "environment": "prod" | "staging" | "test",
     "hardware": {"vendor", "model", "serial",
                  "cpu": {"model", "sockets", "cores"}, "memory_gb",
                  "gpu": {"model": str | null, "count", "memory_mb"},
                  "disks": [{"device": "nvme0n1", "size_gb": 3840, "type": "nvme"}]},
     "os": {"id": "ubuntu", "version": "22.04", "name": "Ubuntu 22.04.4 LTS", "kernel"},
     "network": {"management_ip", "data_ip", "bmc_ip"},
     "ssh": {"address": "127.0.1.1", "port": 22, "user": "root",
             "host_key": "ssh-ed25519 AAAA…" | null, "host_key_fingerprint": "SHA256:…" | null,
             "bastion": null | {"hostname", "address", "port", "host_key"}},
     "labels": {}}

``ssh.address`` is where to connect (for a running lab machine its 127.A.B.C or, behind a
bastion, its 10.77.200.x reached through ``ssh.bastion``); ``host_key`` is null for records
that are not running machines. The CMDB never learns of a host-key rotation (that is the
point of the ``host_key_rotated`` fault).
"""
