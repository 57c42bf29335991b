"""What the witness saw, as data: one frozen dataclass per kind of evidence, and one
encoding for all of them.

The witness (witness.py), inside the student's process, writes each event as a JSON
line; the checks process reads them back (drain.py, loopwatch.py) for the rules that
explain a failure (diagnosis.py). The student's code can write anything on that line,
so reading is of untrusted input, within the bounds of untrusted.py: a line that is not
exactly one of these kinds (an unknown kind or field, a field missing, a value of
another type: the engine's one typed JSON, wire.py, decides) is refused with `Refused`,
and counted; it never crashes grading and never reaches a rule half read. Texts and
lists are cut to MAX_TEXT and MAX_ITEMS, as the witness cuts what it writes.

A new kind of evidence is a dataclass here (`class Kind(Event, kind="kind")`), the
place in witness.py that writes it, and the rule that reads it: the encoding follows the
annotations, and a field the witness writes but the class lacks is refused, not lost.
Every field travels (a default is for the code that makes an event). A place in the
student's file is a pair of fields, `line` and `code` or `<what>_line` and
`<what>_code`: the checks process quotes the code from its own copy of the file
(quoting.ground).
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from grader import untrusted, wire

MAX_TEXT = 1000  # characters of one text field
MAX_ITEMS = 100  # items of one list or mapping field
MAX_EVENTS = 10000  # events read of one server
MAX_EVENT = 1 << 20  # bytes of one event's line
MAX_READ = 4 << 20  # bytes of an events file read

KINDS: dict[str, type[Event]] = {}
"""Every kind of evidence, by the name it has on the line."""


class Refused(ValueError):
    """A line that is not one of the witness's events, and why."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """One thing the witness saw. A subclass names its kind, the name on the line
    (`class Ended(Event, kind="ended")`), and is then known to `decode`."""

    kind: ClassVar[str] = ""

    def __init_subclass__(cls, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind:
            if kind in KINDS:
                raise TypeError(f"two kinds of evidence are named {kind!r}")
            cls.kind = kind
            KINDS[kind] = cls


@dataclass(frozen=True, kw_only=True)
class Placed(Event):
    """Evidence at a line of the student's file (0: none of theirs was found)."""

    line: int = 0
    code: str = ""


@dataclass(frozen=True, kw_only=True)
class Reached(Placed):
    """… and the endpoint's line that led there, where it differs."""

    from_line: int = 0
    from_code: str = ""


@dataclass(frozen=True, kw_only=True)
class Spot:
    """A line of the student's file, inside a larger event."""

    line: int = 0
    code: str = ""


@dataclass(frozen=True, kw_only=True)
class Task(Spot):
    """Where some of the app's tasks wait, and whether the app started them itself
    (a connection's own handler is not one of those)."""

    count: int = 1
    background: bool = False


@dataclass(frozen=True, kw_only=True)
class Blocked(Placed, kind="blocked"):
    """The event loop stood still `seconds` at `line`; reports of one block share
    `since`, the last being the longest."""

    seconds: float
    since: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Unawaited(Reached, kind="unawaited"):
    """A coroutine created and never awaited (Python's RuntimeWarning, `what`); `count`
    of times so far, told at 1, 2, 4… (as misuse and died are)."""

    what: str
    count: int = 1


@dataclass(frozen=True, kw_only=True)
class Misuse(Reached, kind="misuse"):
    """Starlette refused a call (`error`: send before accept, receive after the client
    left…); what had become of that connection (`after`: closed by the app, at
    `closed_line`; left by its client; its endpoint returned) and which task of the
    app's made the call."""

    error: str
    count: int = 1
    path: str = ""
    after: str = ""
    closed_line: int = 0
    closed_code: str = ""
    task_line: int = 0
    task_code: str = ""


@dataclass(frozen=True, kw_only=True)
class Raised(Reached, kind="raised"):
    """An exception escaped the handler of `path` (a WebSocket's, or "GET /x"); a send
    to a client that had gone carries what became of it (`target_…`); one FastAPI raised
    after a route returned names that route (`function`, `declared` return type); for
    an HTTP request, `answered` is the status the client got (500 from the error
    middleware, or the status of an answer that had begun: a stream cut short)."""

    error: str
    path: str
    answered: int = 0
    function: str = ""
    declared: str = ""
    target_path: str = ""
    target_after: str = ""
    target_closed_line: int = 0
    target_closed_code: str = ""


@dataclass(frozen=True, kw_only=True)
class Died(Reached, kind="died"):
    """A task the app started ended with an exception (seen when it ended, not when it
    was garbage collected)."""

    error: str
    count: int = 1
    task_line: int = 0
    task_code: str = ""


@dataclass(frozen=True, kw_only=True)
class Refusal(Reached, kind="refused"):
    """A handshake refused before accept: by a close (`close_code`, `reason`) or by
    the endpoint returning; the routes there are, and the one that matched."""

    path: str
    routes: tuple[str, ...] = ()
    close_code: int = 0
    reason: str = ""
    returned: bool = False
    route: str = ""
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AcceptedThenClosed(Placed, kind="accepted_then_closed"):
    """A connection accepted at `line` and closed at once, before anything was sent."""

    path: str
    closed_line: int = 0
    closed_code: str = ""


@dataclass(frozen=True, kw_only=True)
class Ended(Event, kind="ended"):
    """An endpoint returned while its client was still connected."""

    path: str
    sent: int = 0


@dataclass(frozen=True, kw_only=True)
class StartupFailed(Placed, kind="startup_failed"):
    """The app's startup raised."""

    error: str


@dataclass(frozen=True, kw_only=True)
class Waiting(Event, kind="waiting"):
    """On request: where the app's tasks wait, and where a startup still under way does."""

    tasks: tuple[Task, ...]
    startup: tuple[Spot, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Routes(Event, kind="routes"):
    """The app's WebSocket routes, as it starts."""

    routes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Copied(Placed, kind="copied"):
    """A setting the checks change, copied when the module was imported."""

    setting: str


@dataclass(frozen=True, kw_only=True)
class Shadowed(Placed, kind="shadowed"):
    """A function makes its own `name` where the module has a shared one."""

    name: str
    function: str
    defined_line: int = 0


def encode(event: Event) -> bytes:
    """`event` as one line, as `decode` reads it back: every field, cut as `decode`
    cuts them (a long error stays an event)."""
    data = {"kind": event.kind, **_cut(wire.encode(event))}
    return json.dumps(data, default=str).encode(errors="replace") + b"\n"


def decode(line: bytes | str) -> Event:
    """The event on `line`; Refused if it is not exactly one."""
    try:
        data = untrusted.loads(line, MAX_EVENT)
    except ValueError as exc:
        raise Refused(f"not an event: {exc}") from None
    if not isinstance(data, dict):
        raise Refused("not an event: not a JSON object")
    kind = data.pop("kind", None)
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise Refused(f"no kind of evidence is named {kind!r:.60}")
    try:
        return wire.decode(cls, _cut(data))
    # WireError is a ValueError; anything else a line can provoke is refused as well.
    except (ValueError, ArithmeticError, TypeError, RecursionError) as exc:
        raise Refused(str(exc)[:200]) from None


def parse(data: dict[str, Any]) -> Event:
    """An event from some of its fields, as on a line ({"kind": …, …}), the others
    their defaults; checked as `decode` checks a line (for a caller's own evidence: a
    test, say)."""
    data = dict(data)
    kind = data.pop("kind", None)
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise Refused(f"no kind of evidence is named {kind!r:.60}")
    return decode(json.dumps({"kind": cls.kind, **_filled(cls, data)}))


def _filled(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """`data` with every field of `cls` it leaves out at its default (inner ones too)."""
    hints = typing.get_type_hints(cls)
    filled = dict(data)
    for f in dataclasses.fields(cls):
        if f.name not in filled and f.default is not dataclasses.MISSING:
            filled[f.name] = f.default
        elif f.name not in filled and f.default_factory is not dataclasses.MISSING:
            filled[f.name] = f.default_factory()
        inner = typing.get_args(hints[f.name])[:1]
        if inner and dataclasses.is_dataclass(inner[0]) and isinstance(filled.get(f.name), list):
            filled[f.name] = [_filled(inner[0], item) for item in filled[f.name]]  # type: ignore[arg-type]
    return filled


def _cut(value: Any) -> Any:
    """`value` (JSON data) with each text cut to MAX_TEXT and each list and object to
    MAX_ITEMS; Refused for a number that is not finite (JSON's NaN, Infinity), which
    no event holds."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, float) and not math.isfinite(value):
        raise Refused(f"{value} is not a number an event holds")
    if isinstance(value, list):
        return [_cut(item) for item in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {_cut(k): _cut(v) for k, v in list(value.items())[:MAX_ITEMS]}
    return value


@dataclass
class Reading:
    """What a reader made of the lines it was given: events, and a count of refusals."""

    events: list[Event] = field(default_factory=list)
    refused: int = 0
    why: list[str] = field(default_factory=list)
    """Why lines were refused, the first few."""

    def add(self, line: bytes | str) -> Event | None:
        """Read one line (a blank one is nothing); None if it was refused, or past
        MAX_EVENTS."""
        if not line.strip() or len(self.events) >= MAX_EVENTS:
            return None
        try:
            event = decode(line)
        except Refused as exc:
            self.refused += 1
            if len(self.why) < 10:
                self.why.append(str(exc))
            return None
        self.events.append(event)
        return event


def read(path: Path) -> Reading:
    """The events in an events file (as the checks process keeps them: see drain.py)."""
    reading = Reading()
    try:
        with path.open("rb") as file:
            data = file.read(MAX_READ)
    except OSError:
        return reading
    for line in data.split(b"\n"):
        reading.add(line)
    return reading
