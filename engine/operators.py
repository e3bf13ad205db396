"""Who decides: operator names as identities, not as byte strings.

Four-eyes means two people. ``Alice``, ``alice ``, a full-width ``alice`` and ``alice``
with a zero-width space are all one person (or an attempt to pass for two), so names
are compared by their NFKC case-folded, trimmed form, and names with control,
zero-width or bidirectional characters are refused outright. Locally a name is
self-declared (``--operator``, ``$HITL_OPERATOR``, the login name); the HTTP API will
bind it to a token.
"""

from __future__ import annotations

import unicodedata

from engine.errors import InvalidOperator
from engine.hidden import is_hidden, read_as_latin

RESERVED_PREFIX = "policy:"
"""Decisions the engine makes itself (``policy:expiry``); no person may take the name."""

MAX_LENGTH = 100


def operator_name(raw: str) -> str:
    """The name as recorded (NFKC, trimmed), or InvalidOperator saying what is wrong."""
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name:
        raise InvalidOperator("an operator needs a name (--operator or $HITL_OPERATOR)")
    if unicodedata.category(name[0]) in ("Mn", "Me"):
        raise InvalidOperator(f"operator name {name!r} starts with a combining mark")
    for char in name:
        if is_hidden(char):
            code = f"U+{ord(char):04X}"
            what = unicodedata.name(char, "a control character").lower()
            raise InvalidOperator(
                f"operator name {name!r} contains an invisible or control character "
                f"({code}, {what}); use a plain name"
            )
    if len(name) > MAX_LENGTH:
        raise InvalidOperator(f"operator name is too long ({len(name)} > {MAX_LENGTH})")
    if operator_key(name).startswith(RESERVED_PREFIX):
        raise InvalidOperator(f"operator names starting with {RESERVED_PREFIX!r} are reserved")
    return name


def operator_key(name: str) -> str:
    """What identity compares: one key per person however the name was typed."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return read_as_latin(" ".join(unicodedata.normalize("NFKC", folded).split()))


def same_operator(a: str, b: str) -> bool:
    return operator_key(a) == operator_key(b)
