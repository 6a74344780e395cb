"""Backward-compatibility check between a published JSON Schema and the current one.

Kafka topics keep their history, so a consumer built on the current schema must still read every
record written under the published one. That rules out: removing a property, adding a required
property, making an optional property required, changing a type, removing an enum value, and
tightening a length or range bound.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
BOUNDS_TIGHTER_IF_LOWER = ("maxLength", "maximum", "maxItems")
BOUNDS_TIGHTER_IF_HIGHER = ("minLength", "minimum", "minItems")


def _resolve(node: Schema, root: Schema) -> Schema:
    seen = 0
    while "$ref" in node and seen < 20:
        name = node["$ref"].split("/")[-1]
        node = root.get("$defs", {}).get(name, {})
        seen += 1
    return node


def _branches(node: Schema, root: Schema) -> list[Schema]:
    node = _resolve(node, root)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return [b for sub in node[key] for b in _branches(sub, root)]
    return [node]


def _kind(node: Schema) -> str:
    if "enum" in node or "const" in node:
        return "enum:" + str(node.get("type", ""))
    if "properties" in node or node.get("type") == "object":
        return "object"
    return str(node.get("type", "any"))


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Human-readable reasons why ``new`` cannot read data valid under ``old``; empty if it can."""
    problems: list[str] = []
    _compare(old, new, old, new, "$", problems, set())
    return problems


def _compare(o: Schema, n: Schema, oroot: Schema, nroot: Schema, path: str, out: list[str], seen: set[str]) -> None:
    key = f"{path}|{id(o)}|{id(n)}"
    if key in seen:
        return
    seen.add(key)
    new_branches = _branches(n, nroot)
    for ob in _branches(o, oroot):
        matches = [nb for nb in new_branches if _kind(nb) == _kind(ob) or _kind(nb) == "any"]
        if not matches:
            if _kind(ob) == "null":
                out.append(f"{path}: no longer accepts null")
            else:
                out.append(f"{path}: type {_kind(ob)} is no longer accepted")
            continue
        _compare_branch(ob, matches[0], oroot, nroot, path, out, seen)


def _compare_branch(
    o: Schema, n: Schema, oroot: Schema, nroot: Schema, path: str, out: list[str], seen: set[str]
) -> None:
    if "enum" in o or "const" in o:
        old_values = set(map(str, o.get("enum", [o.get("const")])))
        new_values = set(map(str, n.get("enum", [n.get("const")]))) if ("enum" in n or "const" in n) else old_values
        for removed in sorted(old_values - new_values):
            out.append(f"{path}: enum value {removed!r} removed")
    for bound in BOUNDS_TIGHTER_IF_LOWER:
        if bound in n and (bound not in o or n[bound] < o[bound]):
            out.append(f"{path}: {bound} tightened to {n[bound]}")
    for bound in BOUNDS_TIGHTER_IF_HIGHER:
        if bound in n and (bound not in o or n[bound] > o[bound]):
            out.append(f"{path}: {bound} tightened to {n[bound]}")
    if "pattern" in n and n.get("pattern") != o.get("pattern"):
        out.append(f"{path}: pattern changed to {n['pattern']!r}")
    oprops, nprops = o.get("properties", {}), n.get("properties", {})
    for name in oprops:
        if name not in nprops:
            out.append(f"{path}.{name}: property removed")
        else:
            _compare(oprops[name], nprops[name], oroot, nroot, f"{path}.{name}", out, seen)
    old_required = set(o.get("required", []))
    for name in sorted(set(n.get("required", [])) - old_required):
        if name in oprops:
            out.append(f"{path}.{name}: became required")
        else:
            out.append(f"{path}.{name}: new required property")
    if "items" in o and "items" in n:
        _compare(o["items"], n["items"], oroot, nroot, f"{path}[]", out, seen)
