"""JSON text read back from the store, parsed with orjson where that is exact.

Listing a thousand pending approvals parses six JSON columns per row; the standard
library's parser was most of ``engine.pending()``'s time. orjson is several times faster
but differs in three ways, each sent back to the standard library here so a value reads
back exactly as it was written: integers past 64 bits (orjson makes them floats), NaN and
Infinity (``json.dumps`` writes them, orjson refuses them), and lone surrogates.
"""

from __future__ import annotations

import json
from typing import Any

try:  # LangSmith's dependency (so langchain-core's) on CPython; absent, the stdlib parses
    import orjson
except ImportError:  # pragma: no cover - every supported install has it
    orjson = None  # type: ignore[assignment]

_DIGITS = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_NUMBER = b"0" * 19
"""19 digits in a row may not fit 64 bits: the standard library keeps such an int exact.
(Found by mapping every digit to 0 and looking for 19 zeros: a regular expression
searching for the same took longer than the parse it guards.)"""


def loads(text: str) -> Any:
    """``json.loads(text)``: the same value, faster for the store's usual rows."""
    if orjson is None:
        return json.loads(text)
    try:
        encoded = text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return json.loads(text)
    if len(encoded) >= len(_LONG_NUMBER) and _LONG_NUMBER in encoded.translate(_DIGITS):
        return json.loads(text)
    try:
        return orjson.loads(encoded)
    except orjson.JSONDecodeError:  # NaN or Infinity, which json.dumps writes
        return json.loads(text)
