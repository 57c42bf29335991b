"""The script of one check, as the student reads it: its steps, and frames shown in them.

Every client and request of a check writes here, in order, so a failure can show the
script that led to it.
"""

from __future__ import annotations

from urllib.parse import unquote


def show(frame: str | bytes) -> str:
    """A frame as the student should see it: quoted, or marked as binary."""
    if isinstance(frame, bytes):
        return f"a binary frame {frame[:80]!r}"
    return repr(frame) if len(frame) <= 200 else repr(frame[:200]) + f" … ({len(frame)} chars)"


def show_difference(expected: str, actual: str | bytes) -> tuple[str, str]:
    """Both frames, shown around their first difference when they are long."""
    if isinstance(actual, bytes):
        return show(expected), show(actual)
    same = next(
        (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
        min(len(expected), len(actual)),
    )
    if max(len(expected), len(actual)) <= 200:
        return show(expected), f"{show(actual)}  (differs from character {same + 1})"
    start = max(0, same - 40)

    def window(text: str) -> str:
        cut = repr(text[start : start + 120])
        return f"…{cut}… ({len(text)} chars; they differ from character {same + 1})"

    return window(expected), window(actual)


def chosen(path: str) -> set[str]:
    """What a check chose in `path`: its segments after the first ("/ws/north/alice":
    north, alice), for the diagnosis to tell them from the exercise's fixed text."""
    return {unquote(part) for part in path.split("?")[0].split("/")[2:] if part}


class Transcript(list[str]):
    """The steps of one check, in order, as sentences."""

    def __init__(self) -> None:
        super().__init__()
        self.aliases: dict[str | bytes, str] = {}
        self.values: set[str] = set()
        """What the clients chose: the segments of the paths they used, the texts they
        sent (to tell the contract's fixed text from them)."""

    def alias(self, frame: str | bytes, name: str) -> None:
        """Call `frame` by `name` from now on (a 64 KiB message as "message #3")."""
        self.aliases[frame] = name

    def show(self, frame: str | bytes) -> str:
        return self.aliases.get(frame) or show(frame)

    def fold(self, start: int, line: str, *, keep: int = 0) -> None:
        """Replace the steps since `start` by one `line`, followed by the last `keep` of them."""
        last = self[max(start, len(self) - keep) :] if keep else []
        del self[start:]
        self.append(line)
        self.extend(last)
