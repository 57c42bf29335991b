"""A chat's conventions, and the steps every chat check is made of: joining, saying,
the marker that proves nothing else was sent, and a broadcast held up at a client that
has stopped reading.

A check file states its lesson's formats once:

    chat = Chat(path="/ws/{id}", joined="Client #{id} joined", said="Client #{id}: {text}")

and its checks read as scripts: `alice, bob = await chat.join(server, "alice", "bob")`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from grader import Client, LiveServer, Mismatch, Missing, timing

# A stall: messages of STALL_SIZE fill the buffers of a client that never reads until
# the server's send to it waits. About 48 do it on Linux (the server's send buffer grows
# to 4 MiB); a design that never waits (a queue per client) gets STALL_ROUNDS, 2.5 times
# that, and then the stall is over without anything held up.
STALL_SIZE = 64 * 1024
STALL_ROUNDS = 120
# A correct server relays in milliseconds: a reader that still lacks a message after
# this long (before scaling) is behind the send that waits for the stalled client.
STALL_WAIT = 1.0


@dataclass(frozen=True)
class Chat:
    """Where clients connect, and how the server announces arrivals and relays messages.

    `path` and `name` are formatted with the client's `id` and whatever else a join is
    given (`room="lobby"`); `path` may instead be a function of those. `name` is what
    the transcript calls the client. The helps are the advice where no step gives its
    own: when an arrival is not announced as it should be, when a handshake is refused,
    when a message is not relayed as it should be.
    """

    path: str | Callable[..., str]
    joined: str
    said: str
    name: str = "{id}"
    left: str = "Client #{id} left"
    join_help: str | None = None
    refused_help: str | None = None
    say_help: str | None = None

    async def join(
        self,
        server: LiveServer,
        *ids: str,
        present: Sequence[Client] = (),
        stalled: str = "",
        exact: bool = False,
        help: str | None = None,
        refused_help: str | None = None,
        **fields: str,
    ) -> list[Client]:
        """Connect clients one by one; each newcomer and everyone `present` (and every
        earlier newcomer) hear it join, next, all in the same words.

        Those words are `joined`, or with `exact=False` (for a check about something
        else) a slip of it, so that a typo there fails the checks about the joined line
        and not every check that needs clients. `stalled` names an id whose client never
        reads (and so is not asked to hear anything); `refused_help` is the advice if
        the endpoint refuses a newcomer.
        """
        members = list(present)
        joined: list[Client] = []
        never_reads: Client | None = None
        for client_id in ids:
            path = (
                self.path(client_id, **fields)
                if callable(self.path)
                else self.path.format(id=client_id, **fields)
            )
            client = await server.connect(
                path,
                self.name.format(id=client_id, **fields),
                id=client_id,
                reading=client_id != stalled,
                help=refused_help or self.refused_help,
            )
            members.append(client)
            if client_id == stalled:
                never_reads = client
            text = self.joined.format(id=client_id, **fields)
            heard: str | None = None  # the words the first to hear it heard
            for member in members:
                if member is never_reads:
                    continue
                if exact or heard is not None:
                    # Whatever the words, everyone gets the same announcement.
                    await member.expect(heard or text, help=help or self.join_help)
                else:
                    heard = await member.expect_like(text, [client_id], help=help or self.join_help)
            joined.append(client)
        return joined

    async def enter(self, server: LiveServer, *ids: str, **fields: str) -> list[Client]:
        """Connect clients one by one; each newcomer and everyone earlier read whatever
        comes until the newcomer is named. Nothing said fails it, only a refused or
        closed connection: for a check that judges no words (the server's errors)."""
        members: list[Client] = []
        for client_id in ids:
            path = (
                self.path(client_id, **fields)
                if callable(self.path)
                else self.path.format(id=client_id, **fields)
            )
            members.append(
                await server.connect(path, self.name.format(id=client_id, **fields), id=client_id)
            )
            for member in members:
                await member.drain(client_id)
        return members

    async def say(
        self,
        sender: Client,
        text: str,
        *hearers: Client,
        help: str | None = None,
        allowing: Collection[str] = (),
    ) -> None:
        """`sender` sends `text`; each of `hearers` receives it, relayed, as its next frame."""
        await sender.send(text)
        for hearer in hearers:
            await hearer.expect(
                self.said.format(id=sender.id, text=text),
                help=help or self.say_help,
                allowing=allowing,
            )

    async def marker(self, sender: Client, *hearers: Client, help: str | None = None) -> None:
        """`sender` says "marker", and it must be the very next frame each of `hearers`
        receives: had the server sent them anything else meanwhile, that would come first."""
        await self.say(sender, "marker", *hearers, help=help)

    async def stall(
        self, sender: Client, stalled: Client, *readers: Client, help: str | None = None
    ) -> Stall:
        """`sender` says messages of 64 KiB, one at a time, until one is held up: a reader
        still lacks it after STALL_WAIT s, because the server's send to `stalled`, which
        never reads, waits on its full buffers. Until then every reader (`sender` among
        them) gets each message next; the transcript tells the flood in two lines."""
        transcript = sender.transcript
        start = len(transcript)
        wait = timing.scaled(STALL_WAIT)
        sent: list[str] = []
        lacking: list[Client] = []
        for number in range(STALL_ROUNDS):
            label = f"message #{number} ({STALL_SIZE // 1024} KiB)"
            text = f"{number:04d} " + "x" * (STALL_SIZE - 5)
            sent.append(self.said.format(id=sender.id, text=text))
            transcript.alias(sent[-1], label)
            await sender.send(text, label=label)
            deadline = time.monotonic() + wait
            lacking = [r for r in readers if not await _next_is(r, sent[-1], deadline, help)]
            if lacking:
                break
        before = len(sent) - bool(lacking)  # the messages every reader got
        flood = (
            f"{sender.name} sent {before} messages of {STALL_SIZE >> 10} KiB one at a time, "
            f"and {_names(readers)} received each next ({stalled.name} never reads)"
        )
        if not lacking:
            transcript.fold(start, flood + f": the server never waited for {stalled.name}")
            return Stall(self, sender, stalled, list(readers), sent, list(readers), [])
        have = [r for r in readers if r not in lacking]
        held = (
            f"{sender.name} sent {transcript.show(sent[-1])}: "
            + (f"{_names(have)} received it, " if have else "")
            + f"{_names(lacking)} had not after {wait:g} s: the server waits to send to "
            f"{stalled.name}"
        )
        transcript.fold(start, flood)
        if not before:
            del transcript[-1]
        transcript.append(held)
        # When nobody has it, either this broadcast waits at `stalled` before serving
        # anyone, or the one before it still waits there (at its end, or sending to all
        # at once): nobody is known to be served, and nobody may leave.
        return Stall(self, sender, stalled, list(readers), sent, have, lacking)


@dataclass
class Stall:
    """A broadcast that waits at its send to `stalled`: `sender` said `sent[-1]`, which
    `served` have (the readers that broadcast has sent to) and `pending` still lack."""

    chat: Chat
    sender: Client
    stalled: Client
    readers: list[Client]
    sent: list[str]
    served: list[Client]
    pending: list[Client]
    leaver: Client | None = None
    told: list[Client] = field(default_factory=list)

    @property
    def present(self) -> list[Client]:
        """Everyone still connected: the readers but the leaver, and `stalled`."""
        return [r for r in self.readers if r is not self.leaver] + [self.stalled]

    async def leave(self, preferred: Client, help: str | None = None) -> Client | None:
        """`preferred` (or else another reader the waiting broadcast has served, never
        `sender`, whose handler is the one waiting) closes its connection while the
        broadcast waits; each other served reader hears it left, next. A reader the
        broadcast has yet to serve must not leave: a correct server would send to it after
        it left. None if no such reader is known (the order the server serves in puts
        `stalled` first, or it sends to all at once): then nobody leaves, and all that is
        left to see is everything delivered."""
        can = [r for r in self.served if r is not self.sender]
        if not can:
            self.sender.transcript.append(
                f"(no reader but {self.sender.name} is known to have been served by the "
                f"broadcast that waits at {self.stalled.name}: nobody leaves)"
            )
            return None
        self.leaver = preferred if preferred in can else can[0]
        await self.leaver.close()
        left = self.chat.left.format(id=self.leaver.id)
        for reader in self.served:
            if reader is not self.leaver:
                await reader.expect(left, help=help)
                self.told.append(reader)
        return self.leaver

    async def resume(self, first: Sequence[str], help: str | None = None) -> None:
        """`stalled` reads at last: `first` (what it was sent before the flood), then every
        message in order, and the leaver's departure once, anywhere; then each pending
        reader gets what it still lacks, in either order: the held-up message, and the
        departure if it has not heard it yet."""
        left = self.chat.left.format(id=self.leaver.id) if self.leaver else None
        transcript = self.sender.transcript
        start = len(transcript)
        await _gets(self.stalled, [*first, *self.sent], left, help)
        transcript.fold(
            start,
            f"{self.stalled.name} read at last: everything sent to it, in order"
            + (f", {left!r} among it" if left else ""),
        )
        for reader in self.pending:
            if reader is not self.leaver:
                await _gets(reader, self.sent[-1:], None if reader in self.told else left, help)


def _names(clients: Sequence[Client]) -> str:
    names = [c.name for c in clients]
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


async def _next_is(reader: Client, frame: str, deadline: float, help: str | None) -> bool:
    """Whether `reader` gets `frame` next before `deadline` (anything else fails)."""
    # A frame already on its way is taken even once the deadline has passed.
    got = await reader.poll(max(deadline - time.monotonic(), 0.05))
    if got is None:
        return False
    if got != frame:
        show = reader.transcript.show
        raise Mismatch(
            f"{reader.name} should have received {show(frame)} next",
            show(frame),
            show(got),
            help=help,
        )
    return True


async def _gets(reader: Client, frames: Sequence[str], left: str | None, help: str | None) -> None:
    """`reader` gets `frames` in order, and `left` (if given) once among or after them."""
    show = reader.transcript.show
    needs = list(frames) + ([left] if left else [])
    while needs:
        wanted = needs[0]
        got = await reader.poll()
        if got is None:
            raise Missing(
                f"{reader.name} never received {show(wanted)}, which the server was sending "
                "when a client left",
                show(wanted),
                f"nothing within {timing.scaled(timing.WITHIN):g} s",
                help=help,
            )
        if got == wanted or (left is not None and got == left and left in needs):
            needs.remove(got)
            continue
        raise Mismatch(
            f"{reader.name} should have received {show(wanted)} next",
            show(wanted),
            show(got),
            help=help,
        )
