"""Which service owns an ``/api/v1`` path: the gateway's routing table, as plain data.

The console is the single API entry; it never answers a business call itself, it only
forwards. Ownership follows DESIGN.md section 2: machines, clusters, nodes and configs
belong to inventory, IP pools (under a cluster) and tickets and webhooks to netcfg,
changes to the orchestrator and jobs to the executor. Custom methods (``machines:sync``,
``changes/{id}:retry``) are routed by the collection name before the colon.

How a path is sent on (:func:`forwarded_path`): segment by segment, each decoded once and
percent-encoded again, so what the owner decodes is exactly what the caller sent (a control
character arrives as ``%0A``, never as a raw byte the HTTP client refuses), and no dot
segment (``..``, ``%2e%2e``, ``.``): an HTTP client removes those before sending, so
``webhooks/../clusters/x`` would reach another route than the one routed and checked here.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote_from_bytes, unquote_to_bytes

SERVICES = ("inventory", "orchestrator", "executor", "netcfg")


@dataclass(frozen=True)
class Route:
    service: str
    #: The console checks a bearer token before forwarding. Only the VCalico webhook is
    #: exempt: it is authenticated by its HMAC signature, which netcfg verifies.
    needs_token: bool = True


_BY_COLLECTION: dict[str, Route] = {
    "machines": Route("inventory"),
    "clusters": Route("inventory"),
    "changes": Route("orchestrator"),
    "approvals": Route("orchestrator"),
    "tickets": Route("netcfg"),
    "ippools": Route("netcfg"),
    "webhooks": Route("netcfg", needs_token=False),
    "jobs": Route("executor"),
    "netcfg": Route("netcfg"),
}

#: Sub-collections of a cluster that another service owns: /clusters/{name}/<this>...
_CLUSTER_CHILDREN: dict[str, Route] = {
    "ippools": Route("netcfg"),
    "bgp": Route("netcfg"),
    "network": Route("netcfg"),
}


def prefixes() -> list[str]:
    """Every path the gateway forwards starts with one of these (``{cluster}`` standing for
    a cluster's name)."""
    return [*_BY_COLLECTION, *(f"clusters/{{cluster}}/{child}" for child in _CLUSTER_CHILDREN)]


def _collection(segment: str) -> str:
    return segment.split(":", 1)[0]


def route_for(path: str) -> Route | None:
    """The owner of ``path`` (relative to ``/api/v1``, e.g. ``clusters/c1/ippools/p1:enable``),
    or ``None`` when no service owns it."""
    return route_of(path.split("/"))


def route_of(segments: list[str] | tuple[str, ...]) -> Route | None:
    """The owner of the path made of these (decoded) segments, or ``None``."""
    parts = [p for p in segments if p]
    if not parts:
        return None
    route = _BY_COLLECTION.get(_collection(parts[0]))
    if route is None:
        return None
    if route.service == "inventory" and parts[0] == "clusters" and len(parts) >= 3:
        return _CLUSTER_CHILDREN.get(_collection(parts[2]), route)
    return route


class UnforwardablePath(ValueError):
    """A path the gateway does not send on: it holds a dot segment (``..`` or ``.``, also
    percent-encoded), which the HTTP client would resolve into another path."""


#: What a segment keeps unencoded: RFC 3986 ``pchar`` less ``%`` (always an escape here).
_SEGMENT_SAFE = b"!$&'()*+,;=:@-._~"
#: What a query keeps as the caller wrote it, ``%`` included: escapes pass through unchanged.
_QUERY_SAFE = b"!$&'()*+,;=:@/?%-._~"


@dataclass(frozen=True)
class ForwardedPath:
    #: The segments as the owner will decode them (routing looks at these).
    segments: tuple[str, ...]
    #: The same segments percent-encoded, ``/``-joined: what goes on the wire.
    wire: str


def forwarded_path(raw: bytes) -> ForwardedPath:
    """``raw`` (a path relative to ``/api/v1``, still percent-encoded as the caller sent it)
    as it is sent on; :class:`UnforwardablePath` when it holds a dot segment."""
    return _encoded([unquote_to_bytes(segment) for segment in raw.split(b"/")])


def path_to_send(path: str) -> ForwardedPath:
    """The same for a path the console composed itself (segments already decoded: a page's
    ``machines/{id}`` with the id as its URL gave it)."""
    return _encoded([segment.encode() for segment in path.split("/")])


def _encoded(decoded: list[bytes]) -> ForwardedPath:
    if any(segment in (b".", b"..") for segment in decoded):
        raise UnforwardablePath("a path segment may not be '.' or '..' (nor their percent-encoded forms)")
    return ForwardedPath(tuple(s.decode("utf-8", "replace") for s in decoded),
                         "/".join(quote_from_bytes(s, safe=_SEGMENT_SAFE) for s in decoded))


def forwarded_query(raw: bytes) -> str:
    """A query string as it is sent on: the caller's own escapes kept, any byte a URL may not
    hold raw (a space, a control character, non-ASCII) percent-encoded."""
    return quote_from_bytes(raw, safe=_QUERY_SAFE)
