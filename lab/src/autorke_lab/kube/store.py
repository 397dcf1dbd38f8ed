"""The object store of one lab cluster: what etcd plus the watch cache are to a real one.

Objects are plain JSON dicts keyed by resource, namespace and name. Every write takes the
next value of one cluster-wide ``resourceVersion`` counter, is checked against the
writer's expected version (optimistic concurrency: a stale one is a 409 Conflict) and is
appended to a bounded event history that watches replay from. Stored dicts are never
modified in place (writers hand in new dicts), so readers and watch events can share them.

The store belongs to one event loop and is not thread-safe: other threads reach it
through :meth:`autorke_lab.kube.background.ClusterThread.call`.
"""
from __future__ import annotations

import asyncio
import secrets
import string
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .resources import RESOURCES, Resource
from .status import already_exists, conflict, gone, not_found

Key = tuple[str, str]   # (namespace, name); namespace is "" for cluster-scoped objects


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    resource_version: int
    type: str           # ADDED, MODIFIED, DELETED
    resource: str       # Resource.key
    namespace: str
    object: dict[str, Any]
    previous: dict[str, Any] | None = None   # the object before a MODIFIED write


@dataclass(eq=False)
class Watcher:
    resource: str
    namespace: str | None
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)


class ObjectStore:
    def __init__(self, history: int = 100_000) -> None:
        self._objects: dict[str, dict[Key, dict[str, Any]]] = {r.key: {} for r in RESOURCES}
        self._rv = 0
        self._history: deque[Event] = deque(maxlen=history)
        self._watchers: dict[str, set[Watcher]] = {r.key: set() for r in RESOURCES}
        self.changed = asyncio.Event()   # set on every write; controllers clear and wait

    @property
    def resource_version(self) -> int:
        return self._rv

    # reads -------------------------------------------------------------------------------
    def get(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        obj = self._objects[resource.key].get((namespace, name))
        if obj is None:
            raise not_found(resource.plural, resource.group, name)
        return obj

    def find(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects[resource.key].get((namespace, name))

    def list(self, resource: Resource, namespace: str | None = None) -> list[dict[str, Any]]:
        objects = self._objects[resource.key]
        if namespace is None:
            return [objects[k] for k in sorted(objects)]
        return [objects[k] for k in sorted(objects) if k[0] == namespace]

    def count(self, resource: Resource) -> int:
        return len(self._objects[resource.key])

    # writes ------------------------------------------------------------------------------
    def create(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        namespace = meta.get("namespace", "") if resource.namespaced else ""
        if not meta.get("name") and meta.get("generateName"):
            alphabet = string.ascii_lowercase + string.digits
            meta["name"] = meta["generateName"] + "".join(
                secrets.choice(alphabet) for _ in range(5))
        name = meta["name"]
        objects = self._objects[resource.key]
        if (namespace, name) in objects:
            raise already_exists(resource.plural, resource.group, name)
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if not resource.namespaced:
            meta.pop("namespace", None)
        return self._commit(resource, namespace, name, obj, "ADDED")

    def replace(self, resource: Resource, obj: dict[str, Any],
                expected_rv: str | None = None) -> dict[str, Any]:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "") if resource.namespaced else ""
        current = self.get(resource, namespace, meta["name"])
        current_meta = current["metadata"]
        if expected_rv and expected_rv != current_meta["resourceVersion"]:
            raise conflict(resource.plural, resource.group, meta["name"])
        for kept in ("uid", "creationTimestamp"):
            meta[kept] = current_meta[kept]
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        if "generation" in current_meta:
            changed = obj.get("spec") != current.get("spec")
            meta["generation"] = current_meta["generation"] + (1 if changed else 0)
        return self._commit(resource, namespace, meta["name"], obj, "MODIFIED")

    def delete(self, resource: Resource, namespace: str, name: str,
               expected_rv: str | None = None) -> dict[str, Any]:
        current = self.get(resource, namespace, name)
        if expected_rv and expected_rv != current["metadata"]["resourceVersion"]:
            raise conflict(resource.plural, resource.group, name)
        del self._objects[resource.key][(namespace, name)]
        self._rv += 1
        gone_obj = dict(current, metadata=dict(current["metadata"],
                                               resourceVersion=str(self._rv)))
        self._publish(Event(self._rv, "DELETED", resource.key, namespace, gone_obj))
        return gone_obj

    def _commit(self, resource: Resource, namespace: str, name: str, obj: dict[str, Any],
                event_type: str) -> dict[str, Any]:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        previous = self._objects[resource.key].get((namespace, name))
        self._objects[resource.key][(namespace, name)] = obj
        self._publish(Event(self._rv, event_type, resource.key, namespace, obj, previous))
        return obj

    def _publish(self, event: Event) -> None:
        self._history.append(event)
        self.changed.set()
        for watcher in self._watchers[event.resource]:
            if watcher.namespace is None or watcher.namespace == event.namespace:
                watcher.queue.put_nowait(event)

    # watch -------------------------------------------------------------------------------
    def watch(self, resource: Resource, namespace: str | None,
              since: int | None) -> tuple[Iterable[Event], Watcher]:
        """Start a watch: the events to send first, then the watcher for live ones.

        ``since`` None (or 0) means "current state": synthetic ADDED events for every
        object. Otherwise every event after ``since``, or 410 Expired if the history no
        longer reaches back that far.
        """
        watcher = Watcher(resource.key, namespace)
        if not since:
            backlog: list[Event] = [
                Event(self._rv, "ADDED", resource.key, obj["metadata"].get("namespace", ""), obj)
                for obj in self.list(resource, namespace)]
        else:
            oldest = self._history[0].resource_version if self._history else self._rv + 1
            if since < oldest - 1 and since < self._rv:
                raise gone(f"too old resource version: {since} ({oldest - 1})")
            backlog = [e for e in self._history if e.resource_version > since
                       and e.resource == resource.key
                       and (namespace is None or e.namespace == namespace)]
        self._watchers[resource.key].add(watcher)
        return backlog, watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers[watcher.resource].discard(watcher)
