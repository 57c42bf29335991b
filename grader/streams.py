"""Server-Sent Events for checks: the text/event-stream format, and a stream read like a
WebSocket client, each event a step of the transcript."""

from __future__ import annotations

import asyncio
import codecs
import json
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import h11

from grader import timing
from grader.checks import Closed, Failure, Mismatch, Missing
from grader.transcript import Transcript, show, show_difference
from grader.web import MAX_BODY, NOTHING, Broken, Connection, in_any_order, show_json


@dataclass(frozen=True)
class ServerEvent:
    """One Server-Sent Event: its data (its lines, with "\\n" between them), its type, its id."""

    data: str
    event: str = "message"
    id: str | None = None


_LINE = re.compile(r"\r\n|\r|\n")


@dataclass
class EventParser:
    """The text/event-stream format (HTML's "event stream interpretation"), fed as it
    arrives: comments (keep-alives) are skipped, `retry:` is ignored."""

    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    pending: str = ""
    data: list[str] = field(default_factory=list)
    type: str = ""
    last_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerEvent]:
        """The events `chunk` completes."""
        self.pending += self.decoder.decode(chunk)
        if len(self.pending) + sum(map(len, self.data)) > MAX_BODY:
            # The server chooses how long an event is: no more than a check could want.
            raise Broken(f"it sent an event of more than {MAX_BODY >> 20} MiB")
        # A "\r" at the end may be the first half of a "\r\n": wait for what follows.
        cut = len(self.pending) - self.pending.endswith("\r")
        lines = _LINE.split(self.pending[:cut])
        self.pending = lines.pop() + self.pending[cut:]
        return [event for line in lines if (event := self._line(line))]

    def _line(self, line: str) -> ServerEvent | None:
        if line == "":
            if not self.data:
                self.type = ""
                return None
            event = ServerEvent("\n".join(self.data), self.type or "message", self.last_id)
            self.data, self.type = [], ""
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self.data.append(value)
        elif name == "event":
            self.type = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        return None


class EventReader:
    """The events of one open event stream, in order, as they arrive."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.parser = EventParser()
        self.ready: deque[ServerEvent] = deque()
        self.ended = False

    async def next(self) -> ServerEvent | None:
        """The next event; None once the server has ended the stream. Safe to cancel
        (a timeout): what was read stays here for the next call."""
        while not self.ready and not self.ended:
            event = await self.conn.next_event()
            if isinstance(event, h11.Data):
                self.ready.extend(self.parser.feed(bytes(event.data)))
            elif isinstance(event, h11.EndOfMessage):
                self.ended = True
        return self.ready.popleft() if self.ready else None


class EventStream:
    """One open Server-Sent Events stream, named after who reads it, read like a
    `Client`: every event is a step of the transcript."""

    def __init__(
        self,
        name: str,
        reader: EventReader,
        transcript: Transcript,
        who: str,
        why: Callable[[], Awaitable[str]],
    ) -> None:
        self.name = name
        self.reader = reader
        self.transcript = transcript
        self.who = who
        """The server, as the transcript calls it ("the server")."""
        self.why = why
        """What the witness saw the stream's handler raise, said as ": the server raised …"."""

    async def poll(self, within: float | None = None) -> ServerEvent | None:
        """The next event if one arrives within `within` seconds, else None; `Closed` if
        the server ends the stream instead (with what its handler raised, if it did)."""
        within = _seconds(within, timing.WITHIN)
        try:
            event = await asyncio.wait_for(self.reader.next(), within)
        except TimeoutError:
            return None
        except Broken as exc:
            raise await self._ended("broke the stream off", str(exc)) from None
        if event is None:
            raise await self._ended("ended the stream")
        kind = "" if event.event == "message" else f" (event: {event.event})"
        self.transcript.append(f"{self.name} received {self.transcript.show(event.data)}{kind}")
        return event

    async def receive(self, within: float | None = None) -> ServerEvent:
        """The next event; Missing if none arrives in time."""
        within = _seconds(within, timing.WITHIN)
        event = await self.poll(within)
        if event is None:
            raise Missing(
                f"{self.name} waited for an event", "an event", f"nothing within {within:g} s"
            )
        return event

    async def expect(
        self,
        data: str,
        *,
        event: str | None = None,
        within: float | None = None,
        help: str | None = None,
    ) -> ServerEvent:
        """The next event must carry exactly `data` (and be of type `event`, if given)."""
        got = await self._next(show(data), within, help)
        if got.data != data:
            expected, actual = show_difference(data, got.data)
            mismatch = Mismatch(
                f"{self.name} should have received {show(data)} next", expected, actual, help=help
            )
            mismatch.frames = (data, got.data)
            raise mismatch
        if event is not None and got.event != event:
            raise Mismatch(
                f"{self.name}'s event {show(data)} should have been of type {event!r}",
                f"event: {event}",
                f"event: {got.event}",
                help=help,
            )
        return got

    async def expect_json(
        self,
        equals: Any,
        *,
        any_order: bool = False,
        within: float | None = None,
        help: str | None = None,
    ) -> Any:
        """The next event's data must be JSON equal to `equals` (as `expect_json` of
        `LiveServer` compares). Returns it."""
        got = await self._next(show_json(equals), within, help)
        try:
            value = json.loads(got.data)
        except ValueError:
            value = NOTHING
        same = value == equals if not any_order else in_any_order(value) == in_any_order(equals)
        if value is NOTHING or not same:
            raise Mismatch(
                f"{self.name} should have received {show_json(equals)} next",
                show_json(equals),
                show(got.data),
                help=help,
            )
        return value

    async def _next(self, wanted: str, within: float | None, help: str | None) -> ServerEvent:
        within = _seconds(within, timing.WITHIN)
        try:
            got = await self.poll(within)
        except Failure as exc:
            exc.expected = wanted
            exc.help = help or exc.help  # the check's own advice is the more specific
            raise
        if got is None:
            raise Missing(
                f"{self.name} should have received {wanted}",
                wanted,
                f"nothing within {within:g} s",
                help=help,
            )
        return got

    async def _ended(self, how: str, detail: str = "") -> Closed:
        """The stream is over: how, and why (what the handler raised, else `detail`)."""
        why = await self.why()
        how += why or (f" ({detail})" if detail else "")
        self.transcript.append(f"{self.who} {how}")
        return Closed(
            f"{self.name} waited for an event, but {self.who} {how}",
            None,
            help="An event stream lasts as long as its generator runs: keep it yielding "
            "(in a loop that waits for what to send next) until the client leaves.",
        )

    async def close(self) -> None:
        """Stop reading and hang up, as a closed browser tab does."""
        self.transcript.append(f"{self.name} closed the event stream")
        self.reader.conn.abort()


def _seconds(within: float | None, default: float) -> float:
    return timing.scaled(default) if within is None else within
