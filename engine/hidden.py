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
