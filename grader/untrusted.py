"""What a submission wrote, handled as untrusted: read with bounds, shown made safe.

Reading. Whatever the student's code can reach (its report pipe, its events, the zygote
it can take over, without a sandbox even the results file) may hold a line of any length
or depth. `json.loads` answers a deep one with RecursionError and a huge one with
MemoryError, which callers expecting ValueError would take for a bug in the kit; and a
value that parses but nests deeply can still overflow the stack of whatever walks it
later. Here each of those is a ValueError: the data was not what the grader expects.

Showing. Text that came from a submission (its output, its frames, the names of its
files and folders) is shown in a terminal, a web page, a spreadsheet so that it reads
as what it is: no control sequence acts, and no invisible character (a bidirectional
override or mark, a zero-width space, a line separator) hides or reorders what is
shown. Each is shown as its escape instead: \\x1b, \\u200e.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # no message the grader exchanges nests deeper than a few levels


def loads(data: bytes | str, limit: int) -> Any:
    """`data` as JSON, if it is at most `limit` long and nests at most MAX_DEPTH deep;
    otherwise ValueError."""
    if len(data) > limit:
        raise ValueError(f"longer than {limit} bytes")
    try:
        value = json.loads(data)
    except (RecursionError, MemoryError):
        raise ValueError("nested too deeply, or too large, to read") from None
    if depth(value) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return without_surrogates(value)


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(value: Any) -> Any:
    """`value` (parsed JSON) with every lone surrogate in its strings, keys too, replaced
    by its escape's text (\\ud800). JSON may spell one (`"\\ud800"`), but no encoder
    writes it: left in, it would make whatever prints or saves the text raise.
    Iterative, so a value of any depth is cleaned without recursion."""

    def clean(item: Any) -> Any:
        if isinstance(item, str) and _SURROGATE.search(item):
            return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", item)
        return item

    root = [clean(value)]
    stack: list[Any] = [root]
    while stack:
        container = stack.pop()
        if isinstance(container, list):
            for i, child in enumerate(container):
                container[i] = clean(child)
                if isinstance(child, (list, dict)):
                    stack.append(child)
        elif isinstance(container, dict):
            for key in list(container):
                child = clean(container[key])
                if isinstance(key, str) and _SURROGATE.search(key):
                    del container[key]
                    container[clean(key)] = child
                else:
                    container[key] = child
                if isinstance(child, (list, dict)):
                    stack.append(child)
    return root[0]


def depth(value: Any) -> int:
    """How deeply lists and dicts nest in `value` (0 for a scalar); iterative, so a
    value of any depth is measured without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:  # deeper than that is known to be too deep
                stack.extend((child, level) for child in item)
    return deepest


# What is unsafe to show, one definition for text and names alike: every character
# Python does not call printable (categories Cc control, Cf format: the bidirectional
# marks and overrides, zero-width space and joiners, tag characters; Cs lone surrogates,
# which no encoder writes; Co private use; Cn unassigned; Zl, Zp line and paragraph
# separators; and every space but the ASCII one), and every Default_Ignorable_Code_Point
# of Unicode (DerivedCoreProperties.txt) that Python does call printable: the combining
# grapheme joiner, the Hangul fillers, variation selectors, Khmer inherent vowels and
# Mongolian variation selectors, which show as nothing; and the braille blank.
# Combining accents (the U+0301 of "José" decomposed) are not among them: they show.
_IGNORABLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f"
    "\uffa0\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Every character that may be unsafe: the callbacks below decide.
_NOT_PLAIN = re.compile(r"[^\x20-\x7e]+")
_NAME_UNPLAIN = re.compile(r"[^\x20-\x5b\x5d-\x7e]+")  # and the backslash


def unsafe(char: str) -> bool:
    """Whether `char` may not be shown as itself: a control, a format character, a lone
    surrogate, a private, unassigned or ignorable code point, any space but " "."""
    return not char.isprintable() or _IGNORABLE.fullmatch(char) is not None


def escape_controls(text: str) -> str:
    """`text` with every control or invisible character made visible (ESC shows as \\x1b,
    a right-to-left mark as \\u200e, a lone surrogate as \\ud800); newline and tab
    stay, being the text's own layout. The result can always be encoded as UTF-8."""
    return _NOT_PLAIN.sub(lambda m: _escape_run(m.group(), keep="\n\t"), text)


def escape_name(name: str) -> str:
    """`name` (a student's, a file's) made visible as escape_controls does, newline and
    tab too, and with its backslashes doubled: two names that differ, even by an
    invisible character or a byte that is not UTF-8 (a surrogate from os.listdir), stay
    two different names, `bob<U+034F>` and a file literally named `bob\\u034f` too."""
    return _NAME_UNPLAIN.sub(lambda m: _escape_run(m.group(), keep=""), name)


def _escape_run(run: str, keep: str) -> str:
    return "".join(
        "\\\\" if c == "\\" else c if c in keep or not unsafe(c) else _escape(c) for c in run
    )


def _escape(char: str) -> str:
    if not char.isprintable():
        return repr(char)[1:-1]  # \x1b, \u200e, \ud800, \U000e0041
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def invisible(char: str) -> bool:
    """Whether `char` is whitespace or shows as nothing (see escape_controls)."""
    return char.isspace() or unsafe(char)
