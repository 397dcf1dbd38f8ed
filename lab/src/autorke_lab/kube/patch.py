"""The three patch formats of the Kubernetes API, applied to plain JSON objects.

* JSON merge patch (RFC 7386, ``application/merge-patch+json``): maps merge, ``null``
  deletes, lists are replaced.
* Strategic merge patch (``application/strategic-merge-patch+json``): like merge patch,
  but lists named in the resource's ``merge_keys`` merge item by item on that key
  (``status.conditions`` by ``type``); ``{"$patch": "delete"}`` in such an item removes it.
  Lists without a merge key (``spec.taints``) are replaced whole, as in the real API.
* JSON patch (RFC 6902, ``application/json-patch+json``): add, remove, replace, move,
  copy, test over JSON pointers.

Functions return new objects and never modify their inputs.
"""
from __future__ import annotations

import copy
from typing import Any

from .status import KubeError, bad_request

#: The media type (``Content-Type``) that names each format in a PATCH request.
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, merge_keys: dict[str, str],
                          path: str = "") -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        child = f"{path}.{key}" if path else key
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and child in merge_keys:
            result[key] = _merge_list(result.get(key), value, merge_keys[child], merge_keys,
                                      child)
        else:
            result[key] = strategic_merge_patch(result.get(key), value, merge_keys, child)
    return result


def _merge_list(current: Any, patch: list[Any], merge_key: str,
                merge_keys: dict[str, str], path: str) -> list[Any]:
    items = list(current) if isinstance(current, list) else []
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise bad_request(f"map: {item!r} does not contain declared merge key: {merge_key}")
        index = next((i for i, old in enumerate(items)
                      if isinstance(old, dict) and old.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                items.pop(index)
        elif index is None:
            items.append(strategic_merge_patch({}, item, merge_keys, path))
        else:
            items[index] = strategic_merge_patch(items[index], item, merge_keys, path)
    return items


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer: {path!r}")
    return [_unescape(t) for t in path[1:].split("/")]


def _parent(doc: Any, tokens: list[str]) -> tuple[Any, str]:
    node = doc
    for token in tokens[:-1]:
        node = _child(node, token)
    return node, tokens[-1]


def _child(node: Any, token: str) -> Any:
    try:
        if isinstance(node, list):
            return node[int(token)]
        return node[token]
    except (KeyError, IndexError, ValueError, TypeError):
        raise _unprocessable(f"doc is missing path: {token}") from None


def _unprocessable(message: str) -> KubeError:
    return KubeError(422, "Invalid", f"the server rejected our request due to an error in "
                                     f"our request: {message}")


def _get(doc: Any, path: str) -> Any:
    node = doc
    for token in _pointer(path):
        node = _child(node, token)
    return node


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens)
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if index > len(parent):
            raise _unprocessable(f"add operation index out of bounds: {index}")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise _unprocessable(f"doc is missing path: {path}")
    return doc


def _remove(doc: Any, path: str) -> Any:
    parent, last = _parent(doc, _pointer(path))
    try:
        if isinstance(parent, list):
            parent.pop(int(last))
        else:
            del parent[last]
    except (KeyError, IndexError, ValueError, TypeError):
        raise _unprocessable(f"unable to remove nonexistent key: {last}") from None
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            doc = _add(_remove(doc, path), path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            value = _get(doc, op["from"])
            doc = _add(_remove(doc, op["from"]), path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise _unprocessable(f"testing value {path} failed")
        else:
            raise bad_request(f"unexpected kind of json patch operation: {kind}")
    return doc
