"""Text that came from a submission (its output, its frames, the names of its files and
folders), made safe to show: in a terminal, a web page, a spreadsheet.

Safe means it reads as what it is: no control sequence acts, and no invisible
character (a bidirectional override or mark, a zero-width space, a line separator)
hides or reorders what is shown. Each is shown as its escape instead: \\x1b, \\u200e.
"""

from __future__ import annotations

import re

# Control characters (but newline and tab); the bidirectional marks, embeddings,
# overrides and isolates (U+061C, U+200E-F, U+202A-E, U+2066-9) that can make text read
# differently from what it is; and what takes no room (soft hyphen, zero-width space
# and joiners, word joiner, invisible operators, byte order mark) or breaks a line
# unseen (U+2028, U+2029).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb]"
)


def escape_controls(text: str) -> str:
    """`text` with every control or invisible character made visible (ESC shows as \\x1b,
    a right-to-left mark as \\u200e)."""
    return _UNSAFE.sub(lambda m: _escape(m.group()), text)


def _escape(char: str) -> str:
    return repr(char)[1:-1] if not char.isprintable() else f"\\u{ord(char):04x}"


def invisible(char: str) -> bool:
    """Whether `char` is whitespace or shows as nothing (see escape_controls)."""
    return char.isspace() or _UNSAFE.fullmatch(char) is not None
