"""Characters a person cannot see, or that change what they read: one definition for
refusing operator names, marking listings (``⟨U+202E⟩``) and flagging a call's
arguments in the console.

The control, format (zero-width, bidirectional, tags), private, surrogate, unassigned
and separator categories, plus what Unicode calls default-ignorable outside them
(variation selectors, the combining grapheme joiner, Hangul fillers, Khmer and
Mongolian vowel signs and selectors) and the braille blank, which shows nothing.
"""

from __future__ import annotations

import unicodedata

_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


def is_hidden(char: str) -> bool:
    code = ord(char)
    if any(low <= code <= high for low, high in _RANGES):
        return True
    return unicodedata.category(char) in _CATEGORIES


def has_hidden(text: str, keep: str = "") -> bool:
    """Whether ``text`` holds a hidden character (other than those in ``keep``)."""
    if text.isprintable() and text.isascii():  # the common case, decided in C
        return False
    return any(is_hidden(char) and char not in keep for char in text)


def marker(char: str) -> str:
    """How a hidden character is shown: ``⟨U+202E⟩``."""
    return f"⟨U+{ord(char):04X}⟩"


_CONFUSABLE = str.maketrans(
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u0501\u04bb\u04cf\u051b"
    "\u051d\u0261\u03bf\u03b1\u03b5\u03b9\u03ba\u03bd\u03c1\u03c4\u03c5\u03c7\u04af\u0269-",
    "aeopcyxijsdhlqwgoaeikvptuxyi_",
)
"""Letters that read as Latin ones (Cyrillic, Greek: U+0430 for a, U+0456 for i, ...),
the commonest of Unicode's confusables (TR39), and "-" read as "_": enough that a
graph's tool spelt with a Cyrillic i is judged as the one it reads as too."""


def read_as_latin(text: str) -> str:
    """``text`` with the letters that read as Latin ones (and "-" as "_") folded to
    them: two names a person cannot tell apart compare equal."""
    return text.translate(_CONFUSABLE)
