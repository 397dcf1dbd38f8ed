"""Who may say what on the bus: one table of NATS users and their subject permissions, the
credentials each user proves itself with, and the nats-server configuration holding both.

Anyone who can publish ``autorke.cmd.executor.run`` runs scripts as root across the
fleet, and anyone who can publish ``autorke.events.executor.*.finished`` pushes a change
past its probe (review finding C2). So every connection authenticates, and each user may
publish and subscribe only what its code does; the table is :data:`USERS`, derived from
the services' consumers and emitters (``tests/unit/common/test_c2_natsauth.py`` checks it
against them) and shown in the README's security section.

**Why nkeys, not user and password.** With nkeys the server configuration holds only public
keys, and the secret (the seed) never leaves the client: the server sends a nonce and the
client signs it (Ed25519). A leaked ``nats-server.conf``, a captured connection on a
loopback interface without TLS, or a server log holds nothing that lets anyone connect.
bcrypt'ed passwords would keep the config safe too, but the password itself still travels
on every connect. Operator/JWT mode would also allow rotation without a restart, but needs
``nsc`` and an account resolver: not worth it for one trust domain with six users.

Permissions are allow-lists (what is not listed is refused):

* publish: the user's own message subjects, and the JetStream API subjects it uses —
  stream info and create for the two streams (creating an existing stream with another
  configuration is refused by the server, so create cannot change one), stream update only
  for the user that owns the streams' configuration (the orchestrator), and for each of
  ITS OWN durable consumers: create (the subject names the consumer and its filter, so a
  user cannot create a consumer reading another's subjects), info, next-message and the
  acks ``$JS.ACK.<stream>.<durable>.>``. No delete, purge, or message get: nobody reads or
  removes a stream's messages except through its own consumers.
* subscribe: the user's own inbox ``_INBOX_<user>.>`` (the client is told to use it, so no
  user reads another's replies), and for the console and the ``dashboards`` user the live
  events ``autorke.events.>``.

The ``dashboards`` user (ops dashboards) may subscribe ``autorke.events.>`` and nothing
else: no publish at all, hence no JetStream API either.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nkeys

from autorke_common.catalogue import COMMANDS_PREFIX, known_types
from autorke_common.catalogue import netcfg as _netcfg  # noqa: F401 - registers netcfg's commands
from autorke_common.catalogue.bus import MessageDeadLettered
from autorke_common.catalogue.executor import ExecutorRun
from autorke_common.catalogue.orchestrator import ChangeFinished

EVENTS_STREAM = "AUTORKE_EVENTS"      # the bus's two streams (autorke_common.bus uses these names)
COMMANDS_STREAM = "AUTORKE_COMMANDS"
STREAMS = (EVENTS_STREAM, COMMANDS_STREAM)
DEAD_LETTERS = "autorke.events.bus.>"
SERVICES = ("console", "executor", "inventory", "netcfg", "orchestrator")
DASHBOARDS = "dashboards"
CREDENTIALS_SUFFIX = ".nk"


@dataclass(frozen=True)
class Durable:
    """A durable pull consumer a user owns: its stream, name and filter subject."""

    stream: str
    name: str
    filter_subject: str


@dataclass(frozen=True)
class BusUser:
    name: str
    #: message subjects it may publish
    publish: tuple[str, ...] = ()
    #: core subscriptions besides its own inbox
    subscribe: tuple[str, ...] = ()
    #: the JetStream consumers it creates, reads and acks
    durables: tuple[Durable, ...] = ()
    #: it may change the streams' configuration (retention, max age)
    owns_streams: bool = False
    #: it uses JetStream at all (publishes through it, ensures the streams)
    jetstream: bool = True

    @property
    def inbox_prefix(self) -> str:
        return inbox_prefix(self.name)

    def publish_allow(self) -> list[str]:
        if not self.jetstream:
            return list(self.publish)
        api = "$JS.API"
        allow = [*self.publish]
        for stream in STREAMS:
            allow += [f"{api}.STREAM.INFO.{stream}", f"{api}.STREAM.CREATE.{stream}"]
            if self.owns_streams:
                allow.append(f"{api}.STREAM.UPDATE.{stream}")
        for d in self.durables:
            allow += [f"{api}.CONSUMER.CREATE.{d.stream}.{d.name}.{d.filter_subject}",
                      f"{api}.CONSUMER.INFO.{d.stream}.{d.name}",
                      f"{api}.CONSUMER.MSG.NEXT.{d.stream}.{d.name}",
                      f"$JS.ACK.{d.stream}.{d.name}.>"]
        return allow

    def subscribe_allow(self) -> list[str]:
        inbox = [f"{self.inbox_prefix}.>"] if self.jetstream else []  # replies come only to API calls
        return [*inbox, *self.subscribe]

    def permissions(self) -> dict:
        allow = self.publish_allow()
        return {"publish": {"allow": allow} if allow else {"deny": [">"]},
                "subscribe": {"allow": self.subscribe_allow()} if self.subscribe_allow() else {"deny": [">"]}}


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, a final ``>`` one or more."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def may_publish(user: str, subject: str) -> bool:
    return any(subject_matches(p, subject) for p in USERS[user].publish_allow())


def may_subscribe(user: str, subject: str) -> bool:
    return any(subject_matches(p, subject) for p in USERS[user].subscribe_allow())


def inbox_prefix(user: str) -> str:
    """The reply-subject prefix a user's client uses (``Bus.connect`` passes it)."""
    return f"_INBOX_{user}"


def _own_events(service: str) -> tuple[str, ...]:
    """What every service publishes: its own events, and dead letters of its consumers."""
    return (f"autorke.events.{service}.>", DEAD_LETTERS)


def _command_durables(service: str) -> tuple[Durable, ...]:
    """One durable per command of ``service`` in the catalogue, named as netcfg names them
    (``netcfg-<type with dashes>``): netcfg has a consumer per command it handles."""
    commands = sorted({(type_, subject) for type_, _, subject in known_types()
                       if subject.startswith(f"{COMMANDS_PREFIX}.{service}.")})
    return tuple(Durable(COMMANDS_STREAM, f"{service}-{type_.replace('.', '-')}", subject)
                 for type_, subject in commands)


USERS: dict[str, BusUser] = {u.name: u for u in (
    # streams events to browsers (SSE), and keeps every one in its event log (history, audit)
    BusUser("console", publish=_own_events("console"), subscribe=("autorke.events.>",),
            durables=(Durable(EVENTS_STREAM, "console-event-log", "autorke.events.>"),)),
    BusUser("executor", publish=_own_events("executor"),
            durables=(Durable(COMMANDS_STREAM, "executor-run", ExecutorRun.message_subject()),)),
    # runs executor jobs of its own (facts, node listings) and hears their results
    BusUser("inventory", publish=(*_own_events("inventory"), ExecutorRun.message_subject()),
            durables=(Durable(COMMANDS_STREAM, "inventory-commands", "autorke.cmd.inventory.>"),
                      Durable(EVENTS_STREAM, "inventory-executor-results",
                              "autorke.events.executor.*.finished"))),
    # sends itself the next command of a ticket after each human step
    BusUser("netcfg", publish=(*_own_events("netcfg"), "autorke.cmd.netcfg.>"),
            durables=(Durable(EVENTS_STREAM, "netcfg-inventory-clusters", "autorke.events.inventory.cluster.>"),
                      # a pool change's approval ends with its change
                      Durable(EVENTS_STREAM, "netcfg-orchestrator-changes", ChangeFinished.message_subject()),
                      *_command_durables("netcfg"))),
    BusUser("orchestrator",
            publish=(*_own_events("orchestrator"), ExecutorRun.message_subject(),
                     "autorke.cmd.inventory.>", "autorke.cmd.netcfg.>"),
            durables=(Durable(EVENTS_STREAM, "orchestrator-executor", "autorke.events.executor.>"),
                      Durable(EVENTS_STREAM, "orchestrator-inventory", "autorke.events.inventory.>"),
                      # netcfg's answers to the steps of an ippool.* change
                      Durable(EVENTS_STREAM, "orchestrator-netcfg", "autorke.events.netcfg.ippool.>"),
                      # netcfg's ticket events: the flat-network steps of a node.add
                      Durable(EVENTS_STREAM, "orchestrator-tickets", "autorke.events.netcfg.ticket.>"),
                      # a command of ours given up on: its step fails instead of waiting (H3)
                      Durable(EVENTS_STREAM, "orchestrator-dead-letters", MessageDeadLettered.message_subject())),
            owns_streams=True),
    # ops dashboards: read the events, nothing else
    BusUser(DASHBOARDS, subscribe=("autorke.events.>",), jetstream=False),
)}


# -- credentials ------------------------------------------------------------------------
def new_seed() -> bytes:
    """A fresh user nkey seed (``SU…``)."""
    return nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)


def public_key(seed: bytes) -> str:
    """The public nkey (``U…``) of a seed: what the server configuration holds."""
    kp = nkeys.from_seed(bytearray(seed))
    try:
        return kp.public_key.decode()
    finally:
        kp.wipe()


def credentials_file(creds_dir: Path, user: str) -> Path:
    return Path(creds_dir) / f"{user}{CREDENTIALS_SUFFIX}"


def ensure_credentials(creds_dir: Path, users: Iterable[str] = USERS) -> dict[str, str]:
    """A seed file for every user in ``creds_dir`` (mode 0600, the folder 0700), kept when
    present so a restart keeps them (delete the folder to rotate them all). Returns each
    user's public key."""
    creds_dir = Path(creds_dir)
    creds_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(creds_dir, 0o700)
    keys = {}
    for user in users:
        path = credentials_file(creds_dir, user)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(new_seed() + b"\n")
        os.chmod(path, 0o600)
        keys[user] = public_key(path.read_bytes().strip())
    return keys


# -- the server configuration -------------------------------------------------------------
@dataclass(frozen=True)
class ServerTls:
    """The server's certificate and key (PEM files); ``ca_file`` verifies clients' certificates
    too when ``verify_clients``."""

    cert_file: str
    key_file: str
    ca_file: str | None = None
    verify_clients: bool = False


@dataclass(frozen=True)
class ClusterNode:
    """One server's place in a NATS cluster: its (unique) name, where it listens for the
    other servers and where they listen. Routes use mutual TLS (``tls``: a certificate of
    the cluster's own CA with both server and client use, ``ca_file`` that CA): only a
    holder of such a certificate joins the cluster, and route traffic is encrypted."""

    server_name: str
    listen: str
    routes: tuple[str, ...]
    tls: ServerTls
    cluster_name: str = "autorke"


def server_config(public_keys: dict[str, str], store_dir: str | Path | None = None,
                  listen: str | None = None, tls: ServerTls | None = None,
                  monitor_port: int | None = None, users: dict[str, BusUser] = USERS,
                  cluster: ClusterNode | None = None) -> str:
    """The nats-server configuration (JSON, which the server's config parser reads): every
    user of ``public_keys`` with its permissions, JetStream (under ``store_dir``), TLS, and
    with ``cluster`` this server's routes to the others of a JetStream cluster."""
    missing = set(public_keys) - set(users)
    if missing:
        raise ValueError(f"no permissions for bus users {sorted(missing)}")
    config: dict = {}
    if listen:
        config["listen"] = listen
    if monitor_port:
        config["http_port"] = monitor_port
    config["jetstream"] = {"store_dir": str(store_dir)} if store_dir else {}
    config["authorization"] = {"users": [
        {"nkey": key, "permissions": users[user].permissions()}
        for user, key in sorted(public_keys.items())]}
    if tls is not None:
        block: dict = {"cert_file": tls.cert_file, "key_file": tls.key_file, "timeout": 5}
        if tls.ca_file:
            block["ca_file"] = tls.ca_file
        if tls.verify_clients:
            block["verify"] = True
        config["tls"] = block
    if cluster is not None:
        config["server_name"] = cluster.server_name
        config["cluster"] = {
            "name": cluster.cluster_name, "listen": cluster.listen,
            "routes": [f"nats-route://{route}" for route in cluster.routes],
            "tls": {"cert_file": cluster.tls.cert_file, "key_file": cluster.tls.key_file,
                    "ca_file": cluster.tls.ca_file, "verify": True, "timeout": 5}}
    return json.dumps(config, indent=2) + "\n"


def write_server_config(path: Path, text: str) -> Path:
    """Write the configuration (0600: it holds no secret, but says who may do what)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
