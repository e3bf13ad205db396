"""Checking a value against a JSON schema a graph gave (an edit's arguments, a thread's
input): the errors as one line a person can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import InvalidArguments


def schema_problems(schema: Mapping[str, Any], value: Any, limit: int = 5) -> list[str]:
    """Each way ``value`` fails ``schema`` ("path: message"), at most ``limit``; none for
    a schema that is itself broken (then nothing can be checked, as with no schema)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(dict(schema))
    except SchemaError:
        return []
    validator = Draft202012Validator(dict(schema))
    found = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(value)'}: {error.message[:200]}"
        for error in found[:limit]
    ]


def check_schema(schema: Mapping[str, Any], args: Any, what: str = "the arguments are") -> None:
    """Raises InvalidArguments naming each field of ``args`` that fails ``schema``
    (``what``: the subject and its verb, "the answer is")."""
    if problems := schema_problems(schema, args):
        raise InvalidArguments(
            f"{what} invalid: {'; '.join(problems)}; nothing changed", problems
        )
