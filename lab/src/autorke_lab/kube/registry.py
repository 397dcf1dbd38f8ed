"""The rules of each verb on top of the store, as the real API server's registry
strategies apply them: validation, defaults on create, what the main endpoint and the
``/status`` subresource may change, patch formats, preconditions and cascades.

Routes translate HTTP to these calls; controllers call them too, so every write, from a
client or from inside the lab, follows the same rules and reaches the same watches.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from .patch import JSON_PATCH, MERGE, STRATEGIC, json_patch, merge_patch, strategic_merge_patch
from .resources import DAEMONSETS, NAMESPACES, NODES, PDBS, PODS, REPLICASETS, RESOURCES, Resource
from .status import bad_request, conflict, invalid, not_found, unsupported_media_type
from .store import ObjectStore

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_NO_GENERATION = {NODES.key, PODS.key, NAMESPACES.key}
_INITIAL_STATUS = {   # what the real API shows before a controller has looked
    REPLICASETS.key: {"replicas": 0},
    DAEMONSETS.key: {"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                       "numberMisscheduled": 0, "numberReady": 0},
    PDBS.key: {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0,
                 "expectedPods": 0},
}


class Registry:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    # create ------------------------------------------------------------------------------
    def create(self, resource: Resource, namespace: str, body: Any,
               dry_run: bool = False) -> dict[str, Any]:
        obj = self._object_body(body)
        meta = obj.setdefault("metadata", {})
        if resource.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            meta["namespace"] = namespace
            if self.store.find(NAMESPACES, "", namespace) is None:
                raise not_found("namespaces", "", namespace)
        for server_owned in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(server_owned, None)
        if not meta.get("name") and not meta.get("generateName"):
            raise invalid(resource.kind, resource.group, "", "metadata.name",
                          "Required value: name or generateName is required")
        if meta.get("name"):
            self._validate(resource, obj)
        if resource.key not in _NO_GENERATION:
            meta["generation"] = 1
        if resource == PODS:
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif resource == NAMESPACES:
            obj["status"] = {"phase": "Active"}
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        elif resource.has_status and resource != NODES:
            obj["status"] = dict(_INITIAL_STATUS.get(resource.key, {}))
        if resource == NAMESPACES:
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        if dry_run:
            return obj
        return self.store.create(resource, obj)

    # update ------------------------------------------------------------------------------
    def replace(self, resource: Resource, namespace: str, name: str, body: Any,
                subresource: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        obj = self._object_body(body)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") != name:
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match "
                              f"the name on the URL ({name})")
        current = self.store.get(resource, namespace, name)
        expected = meta.get("resourceVersion")
        if not expected and resource.custom:
            raise invalid(resource.kind, resource.group, name, "metadata.resourceVersion",
                          "Invalid value: 0x0: must be specified for an update")
        return self._write(resource, current, obj, subresource, expected, dry_run)

    def patch(self, resource: Resource, namespace: str, name: str, content_type: str,
              body: Any, subresource: str | None = None,
              dry_run: bool = False) -> dict[str, Any]:
        current = self.store.get(resource, namespace, name)
        media = content_type.split(";")[0].strip().lower()
        if media == JSON_PATCH:
            patched = json_patch(current, body)
        elif media == MERGE:
            patched = merge_patch(current, body)
        elif media == STRATEGIC and not resource.custom:
            patched = strategic_merge_patch(current, body, resource.merge_keys)
        else:
            accepted = [JSON_PATCH, MERGE] + ([] if resource.custom else [STRATEGIC])
            raise unsupported_media_type(content_type, accepted)
        if not isinstance(patched, dict):
            raise bad_request("patch did not produce an object")
        patched = copy.deepcopy(patched)
        meta = patched.setdefault("metadata", {})
        if meta.get("name") != name:
            raise bad_request("metadata.name cannot be changed by a patch")
        expected = meta.get("resourceVersion")
        return self._write(resource, current, patched, subresource, expected, dry_run)

    def _write(self, resource: Resource, current: dict[str, Any], obj: dict[str, Any],
               subresource: str | None, expected: str | None,
               dry_run: bool) -> dict[str, Any]:
        name = current["metadata"]["name"]
        if expected and expected != current["metadata"]["resourceVersion"]:
            raise conflict(resource.plural, resource.group, name)
        if resource.namespaced:
            obj["metadata"]["namespace"] = current["metadata"]["namespace"]
        if subresource == "status":
            status = obj.get("status")
            obj = dict(current)
            obj["status"] = status
        elif subresource:
            raise bad_request(f"subresource {subresource} does not support this verb")
        elif resource.has_status:
            if "status" in current:
                obj["status"] = current["status"]
            else:
                obj.pop("status", None)
        self._validate(resource, obj)
        if dry_run:
            return obj
        return self.store.replace(resource, obj, expected)

    # delete ------------------------------------------------------------------------------
    def delete(self, resource: Resource, namespace: str, name: str,
               options: dict[str, Any] | None = None, dry_run: bool = False) -> dict[str, Any]:
        preconditions = (options or {}).get("preconditions") or {}
        current = self.store.get(resource, namespace, name)
        uid = preconditions.get("uid")
        if uid and uid != current["metadata"]["uid"]:
            raise conflict(resource.plural, resource.group, name)
        if dry_run:
            return current
        deleted = self.store.delete(resource, namespace, name, preconditions.get("resourceVersion"))
        if resource == NAMESPACES:
            for contained in RESOURCES:
                if contained.namespaced:
                    for obj in self.store.list(contained, name):
                        self.store.delete(contained, name, obj["metadata"]["name"])
        return deleted

    # validation --------------------------------------------------------------------------
    def _object_body(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        return copy.deepcopy(body)

    def _validate(self, resource: Resource, obj: dict[str, Any]) -> None:
        name = obj["metadata"].get("name", "")
        if len(name) > 253 or not _NAME_RE.match(name):
            raise invalid(resource.kind, resource.group, name, "metadata.name",
                          f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must '
                          "consist of lower case alphanumeric characters, '-' or '.', and "
                          "must start and end with an alphanumeric character")
        for key, value in ((obj["metadata"].get("labels")) or {}).items():
            if not isinstance(value, str) or len(value) > 63:
                raise invalid(resource.kind, resource.group, name, "metadata.labels",
                              f'Invalid value: "{value}": label {key} must be a string of at '
                              "most 63 characters")
        if resource == NODES:
            for i, taint in enumerate((obj.get("spec") or {}).get("taints") or []):
                if not taint.get("key"):
                    raise invalid("Node", "", name, f"spec.taints[{i}].key",
                                  "Required value")
                if taint.get("effect") not in _TAINT_EFFECTS:
                    raise invalid("Node", "", name, f"spec.taints[{i}].effect",
                                  f'Unsupported value: "{taint.get("effect")}": supported '
                                  'values: "NoExecute", "NoSchedule", "PreferNoSchedule"')
