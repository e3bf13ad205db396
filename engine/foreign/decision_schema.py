"""What a per-call HITL interrupt's ``response_schema`` allows, read from its JSON schema.

LangChain's middleware publishes, per gated call, the decisions that tool allows: one
decision's object schema when it allows one, else a ``oneOf`` discriminated by ``type``
whose members are ``$ref``s into ``$defs``. The edit member pins the tool's name and
carries the tool's argument schema, itself often a ``$ref`` with more ``$ref``s inside.

Every walk here is bounded (hops along a ``$ref`` chain, nodes visited), so a cyclic or
enormous schema costs a fixed amount and yields "unknown", never a crash.
"""

from __future__ import annotations

from typing import Any

_REF_HOPS = 32
"""A ``$ref`` chain longer than this is taken for a cycle."""

_SECTIONS = ("$defs", "definitions")
"""Where JSON schemas keep the definitions their ``$ref``s point at."""

_NODES = 20_000
"""Nodes visited while gathering the definitions an argument schema refers to."""


def per_call_terms(schema: object) -> tuple[tuple[str, ...], dict[str, Any] | None] | None:
    """The decision types the schema accepts and the self-contained JSON schema of an
    edit's args (None when edits are not allowed or their args are not described).
    None when the schema is not one of decisions told apart by their ``type``."""
    if not isinstance(schema, dict):
        return None
    branches = schema.get("oneOf", schema.get("anyOf", [schema]))
    if not isinstance(branches, list) or not branches:
        return None
    kinds: list[str] = []
    args_schema: dict[str, Any] | None = None
    for branch in branches:
        node = _resolve(branch, schema)
        kind = _const(_resolve(_properties(node).get("type"), schema))
        if not isinstance(kind, str):
            return None
        kinds.append(kind)
        if kind == "edit":
            args_schema = _edit_args_schema(node, schema)
    return tuple(kinds), args_schema


def _edit_args_schema(edit: dict[str, Any] | None, root: dict[str, Any]) -> dict[str, Any] | None:
    action = _resolve(_properties(edit).get("edited_action"), root)
    args = _resolve(_properties(action).get("args"), root)
    return None if args is None else _self_contained(args, root)


def _self_contained(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the definitions it refers to (transitively) copied beside it, under
    the same pointers (``#/$defs/Name`` stays ``#/$defs/Name``), so it can be used without
    the document it came from. Definitions it brought itself are kept as they are."""
    gathered: dict[tuple[str, str], Any] = {}
    pending: list[Any] = [schema]
    visited = 0
    while pending:
        visited += 1
        if visited > _NODES:  # too big to pick from: take every definition there is
            gathered = {
                (section, name): body
                for section in _SECTIONS
                if isinstance(root.get(section), dict)
                for name, body in root[section].items()
            }
            break
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str) and (key := _definition_key(ref)) and key not in gathered:
            body = root.get(key[0], {}).get(key[1]) if isinstance(root.get(key[0]), dict) else None
            if body is not None:
                gathered[key] = body
                pending.append(body)
        pending.extend(node.values())
    out = dict(schema)
    for (section, name), body in gathered.items():
        own = out.get(section)
        merged = dict(own) if isinstance(own, dict) else {}
        merged.setdefault(name, body)
        out[section] = merged
    return out


def _definition_key(ref: str) -> tuple[str, str] | None:
    """``("$defs", "Name")`` for ``#/$defs/Name`` (or anything below it)."""
    parts = ref.split("/")
    if len(parts) < 3 or parts[0] != "#" or parts[1] not in _SECTIONS:
        return None
    return _unescape(parts[1]), _unescape(parts[2])


def _resolve(node: object, root: dict[str, Any]) -> dict[str, Any] | None:
    """The schema ``node`` stands for, following local ``$ref``s (keywords beside a
    ``$ref`` win over the target's); None when it is not an object or a ref dangles."""
    for _ in range(_REF_HOPS):
        if not isinstance(node, dict):
            return None
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return node
        target = _pointer(root, ref)
        if not isinstance(target, dict):
            return None
        beside = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **beside}
    return None


def _pointer(root: dict[str, Any], ref: str) -> object:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: object = root
    for part in ref[2:].split("/"):
        if not isinstance(node, dict):
            return None
        node = node.get(_unescape(part))
    return node


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _properties(node: dict[str, Any] | None) -> dict[str, Any]:
    props = node.get("properties") if node is not None else None
    return props if isinstance(props, dict) else {}


def _const(node: dict[str, Any] | None) -> object:
    """The single value a property schema allows (``const``, or a one-item ``enum``)."""
    if node is None:
        return None
    if "const" in node:
        return node["const"]
    enum = node.get("enum")
    return enum[0] if isinstance(enum, list) and len(enum) == 1 else None
