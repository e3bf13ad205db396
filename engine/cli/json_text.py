"""Indented JSON for listings, the same text as ``json.dumps(jsonable(v), indent=2)``.

The standard library encodes with C only without ``indent``; with it, every value goes
through generators in pure Python: for ``hitl pending --json`` of 1,000 approvals that
and turning each dataclass into a dict first (``jsonable``) took ~0.25 s of a 0.3 s
budget. Here strings, the bulk of it, go through the C escaper, and dataclasses are
read field by field as they are written, with no copy in between.
"""

from __future__ import annotations

import dataclasses
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

_INDENT = "  "


def indented_json(value: Any, *, ensure_ascii: bool = True) -> str:
    """``value`` (plain JSON, tuples, the engine's dataclasses at any depth) as
    ``json.dumps(jsonable(value), indent=2, ensure_ascii=ensure_ascii)`` writes it;
    TypeError for anything else, as json does."""
    out: list[str] = []
    _write(value, out, "\n", encode_basestring_ascii if ensure_ascii else encode_basestring)
    return "".join(out)


def _write(value: Any, out: list[str], newline: str, quote: Any) -> None:
    """Appends ``value``'s text; ``newline`` is a line break and the current indent."""
    kind = type(value)
    if kind is str:
        out.append(quote(value))
    elif kind is dict:
        _write_pairs(value.items(), bool(value), out, newline, quote)
    elif isinstance(value, str):
        out.append(quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = newline + _INDENT
        out.append("[")
        for index, item in enumerate(value):
            out.append(inner if index == 0 else "," + inner)
            _write(item, out, inner, quote)
        out.append(newline + "]")
    elif isinstance(value, dict):
        _write_pairs(value.items(), bool(value), out, newline, quote)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        pairs = ((f.name, getattr(value, f.name)) for f in fields)
        _write_pairs(pairs, bool(fields), out, newline, quote)
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _write_pairs(pairs: Any, any_: bool, out: list[str], newline: str, quote: Any) -> None:
    if not any_:
        out.append("{}")
        return
    inner = newline + _INDENT
    out.append("{")
    first = True
    for key, item in pairs:
        out.append(inner if first else "," + inner)
        first = False
        out.append(_key(key, quote))
        out.append(": ")
        _write(item, out, inner, quote)
    out.append(newline + "}")


def _key(key: Any, quote: Any) -> str:
    """A key as json writes it: strings quoted, numbers, booleans and None as text."""
    if isinstance(key, str):
        return str(quote(key))
    if isinstance(key, float):
        return str(quote(_float(key)))
    if key is True:
        return '"true"'
    if key is False:
        return '"false"'
    if key is None:
        return '"null"'
    if isinstance(key, int):
        return str(quote(int.__repr__(key)))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == float("-inf"):
        return "-Infinity"
    return float.__repr__(value)
