"""Lab machines: many real OpenSSH servers on one host, each looking like its own machine.

What a machine is
    One Debian ``sshd`` per machine, started by ``unshare --uts --mount`` (plus a network
    namespace for bastion mode) running ``standins/libexec/autorke-lab/machine-init``. Inside:
    its hostname; copy-on-write overlays of the host's ``/etc``, ``/var``, ``/opt`` and
    ``/usr/local`` (so ``/etc/kubernetes``, ``/var/lib/etcd``, ``/etc/rancher/rke2``,
    ``/etc/docker``, ``/usr/local/bin/rke2`` are per machine at their real paths); a fresh
    ``/root``; its own PID namespace and ``/proc`` (``machine-pid1`` is its PID 1, so ``ps``
    sees the machine's processes only, not the fleet's); simulated ``/proc/cpuinfo``,
    ``/proc/meminfo``, ``/proc/sys/kernel/osrelease``, ``/etc/os-release``. Each
    listens on its own 127.A.B.C:22 (``addresses.py``), with its own ed25519 host key; root
    logs in with the lab's key (``<state dir>/id_ed25519``). ``curve25519-sha256`` is
    offered (OpenSSH's default list), MaxStartups/MaxSessions are high. Files: ``layout.py``.

Stand-ins (``/usr/local/bin``, first on sshd's PATH)
    ``nvidia-smi`` (``-L``, ``--query-gpu=…``, ``--format=csv,noheader,nounits``), ``lscpu``,
    ``nproc``, ``lsblk`` (``-J``), ``uname`` (simulated kernel): all answer from
    ``/var/lib/autorke-lab/facts.json``, the same facts the CMDB publishes (``facts.py``).
    ``docker``: containers are files under the machine's ``/var/lib/docker/containers`` and a
    running one is a real process of the machine. ``systemctl``: see below.

Declaring a unit (for the rke2 stand-in and other provisioners)
    Write ``/etc/systemd/system/NAME.service`` on the machine (over SSH), e.g.::

        [Unit]
        Description=Rancher Kubernetes Engine v2 (server)
        [Service]
        EnvironmentFile=-/etc/default/rke2-server
        Environment="RKE2_TOKEN=…"
        ExecStartPre=-/sbin/modprobe overlay
        ExecStart=/usr/local/bin/rke2 server

    then ``systemctl daemon-reload`` (no-op), ``systemctl enable --now NAME`` (or ``start``).
    ExecStart runs as a real, detached process in the machine (stdout/stderr in
    ``/var/log/autorke-lab/units/NAME.service.log``); its PID is in
    ``/var/lib/autorke-lab/units/NAME.service.pid`` and ``Machine.units()`` lists it. Also:
    ``stop``, ``restart``, ``disable [--now]``, ``is-active``, ``is-enabled``, ``status``,
    ``list-units``. Enabled units start again when the machine starts. At ``lab down`` every
    process of the machine ends (units included).

Command log
    sshd's ForceCommand (``standins/libexec/autorke-lab/session``, sourced by the login
    shell) records every command exactly, then runs it (``commandlog.py``): ``Machine.command_log()``, the file path in
    status (``command_log``), ``GET /lab/machines/{name}/commands``.

Faults (``faults.py``; control API in ``api.py``; ``autorke lab fault``)
    unreachable, slow_handshake, hang, command_fails, disk_full, host_key_rotated, clock_skew.

Bastion mode (``network.py``)
    ``bastion_inner=N``: a bastion machine reachable from the host and N machines in their
    own network namespaces that only the bastion can reach (SSH jump / direct-tcpip).

Clean-up
    Everything of a machine lives in its mount namespace; the fleet kills exactly those
    processes (``namespaces.py``), never by name. If the lab process dies, each machine's
    keeper notices (``tail --pid``) and kills the machine's PID 1, which ends its PID namespace.
    Network namespaces are named ``autorke-lab-<owner pid>-…`` and removed when their owner is
    gone.

Without root or namespaces the fleet falls back to a few plain sshd's (own address and
port, shared files) and says so (``Fleet.notice``).
"""
