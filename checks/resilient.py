"""Exercise 3 — resilient: dead, closing and slow clients never hurt the others.

Each check gets a fresh server. The bad clients are real: `drop()` cuts the TCP
connection without a close handshake, and a client opened with `reading=False` never
reads, so once its socket buffers are full the server's sends to it block. Filling
those buffers takes a few MiB on loopback (about 48 messages of 64 KiB on Linux, where
the server's send buffer grows to 4 MiB), so the checks flood the room with 64 KiB
messages of random text until well past that point.

Every delivery to a healthy client is timed: a correct server relays in milliseconds,
so a delivery that takes more than a second means a bad client is holding the others
up. Silence is proven with markers: a later message arriving next shows that nothing
was sent in between.
"""

from __future__ import annotations

import asyncio
import os
import string
import time
from typing import NoReturn

from checks._chat import Chat
from grader import (
    Client,
    Closed,
    Failure,
    LiveServer,
    Mismatch,
    Missing,
    Submission,
    check,
    scaled,
)

chat = Chat(path="/ws/{id}", joined="Client #{id} joined", said="Client #{id}: {text}")

# A healthy client must get each message within this many seconds (before scaling).
PROMPT = 1.0
# When a delivery takes that long, the server is taken to be stuck sending to the bad
# client: the moment to make it vanish. (Too early is harmless to a correct server.)
STUCK = PROMPT
# How long a reader waits for what it still lacks once the bad client is gone.
SETTLE = 2.0
# Flood messages: 64 KiB of random letters and digits, which deflate could not shrink much.
SIZE = 64 * 1024
ALPHABET = (string.ascii_letters + string.digits + "-_").encode() * 4  # 256 bytes
# 2.5 times what the socket buffers of a client that never reads absorb here.
FILL = 120
# A server that honours QUEUE_SIZE = 8 cuts the client off after about 60 messages.
CAP = 160
# Small limits, so that a slow client is cut off soon. A design with a queue per client
# reads QUEUE_SIZE; a design that times out each send reads SEND_TIMEOUT.
LIMITS = {"QUEUE_SIZE": 8, "SEND_TIMEOUT": 0.25}
# How long a design that times out each send gets, beyond the flood, to cut a client off
# (before scaling).
PATIENCE = 4 * LIMITS["SEND_TIMEOUT"]
# Limits that the vanishing clients never reach: the server is still sending to them.
ROOMY = {"QUEUE_SIZE": 10_000, "SEND_TIMEOUT": 30.0}

STALL_HELP = (
    "Never make everyone wait for one client's send: give each client its own "
    "asyncio.Queue and writer task, and have broadcast() only put_nowait() into them."
)
DEAD_HELP = (
    "A send to a connection that died raises WebSocketDisconnect: catch it for that one "
    "client (in its writer task) and keep serving the rest."
)
ONCE_HELP = (
    "Whoever removes a client announces it, exactly once: disconnect() returns whether "
    "the client was still there, and only then is it announced."
)
CLOSED_HELP = (
    "The server closes a connection when its endpoint returns or raises: did a failed "
    "send to the bad client escape into this client's endpoint? See the server's output."
)
ERRORS_HELP = (
    "A client that vanishes is normal, not an error: catch WebSocketDisconnect where you "
    "send (the writer task) and where you close, stop quietly, log no traceback."
)


def flood_text(number: int) -> str:
    """Message `number`: 64 KiB of random text, numbered so that a gap shows."""
    return f"{number:04d} " + os.urandom(SIZE).translate(ALPHABET).decode("ascii")


class Flood:
    """`sender` sends big messages one at a time; each must reach every reader, in order.

    Meanwhile each reader may be told once, between two messages, that the bad client
    left. A lenient flood also lets other lines about the bad client pass: it is about
    speed, and a stricter check judges those lines. The transcript names flood messages
    by number instead of quoting 64 KiB.
    """

    def __init__(
        self, sender: Client, readers: list[Client], bad: str, *, strict: bool = True
    ) -> None:
        self.sender = sender
        self.readers = readers
        self.bad = bad
        self.strict = strict
        self.left = f"Client #{bad} left"
        self.sent: list[str] = []
        self.told: set[str] = set()  # the readers that were told `bad` left
        self.cut_at = 0  # how many messages had been sent when `bad` was announced
        self.pending: list[Client] = []  # readers still waiting for the last message
        self.started = 0.0
        self.name = sender.transcript.show

    @property
    def everyone_told(self) -> bool:
        return all(reader.name in self.told for reader in self.readers)

    @property
    def last(self) -> str:
        return f"message #{len(self.sent) - 1}"

    async def run(self, rounds: int, *, until_left: bool = False) -> None:
        """Flood; every delivery must take less than PROMPT."""
        prompt = scaled(PROMPT)
        for _ in range(rounds):
            if until_left and self.everyone_told:
                return
            await self.send()
            for reader in self.readers:
                if not await self.deliver(reader, prompt):
                    raise Missing(
                        f"{reader.name} waited more than {prompt:g} s for {self.last} while "
                        f"{self.bad} was not reading (a correct server relays it in "
                        "milliseconds)",
                        self.name(self.sent[-1]),
                        f"nothing within {prompt:g} s",
                        help=STALL_HELP,
                    )

    async def run_until_cut_off(self) -> None:
        """Flood until `bad` is announced as left: CAP messages at full speed (a backlog
        limit shows by then), then at a gentler pace for a while, so that a design that
        times out a send (SEND_TIMEOUT) has the time its limit says."""
        await self.run(CAP, until_left=True)
        patience = scaled(PATIENCE)
        deadline = time.monotonic() + patience
        while not self.everyone_told and time.monotonic() < deadline:
            await self.run(1, until_left=True)
            await asyncio.sleep(patience / 40)

    async def run_until_stuck(self, rounds: int) -> None:
        """Flood until a delivery takes longer than STUCK, or `rounds` messages went out."""
        stuck = scaled(STUCK)
        for _ in range(rounds):
            await self.send()
            self.pending = list(self.readers)
            while self.pending and await self.deliver(self.pending[0], stuck):
                self.pending.pop(0)
            if self.pending:
                self.sender.transcript.append(
                    f"(nothing for {stuck:g} s: the server seems stuck sending to {self.bad})"
                )
                return

    async def settle(self, help: str) -> None:
        """Once `bad` is gone, each reader gets what it still lacks, in either order: the
        message that was on its way, and the news that `bad` left."""
        within = scaled(SETTLE)
        for reader in self.readers:
            needs = [self.sent[-1]] if reader in self.pending else []
            if reader.name not in self.told:
                needs.append(self.left)
            while needs:
                frame = await self.receive(reader, within)
                if frame is None:
                    raise Missing(
                        f"{reader.name} never got {self.last}, which was on its way when "
                        f"{self.bad} went away"
                        if needs[0] != self.left
                        else f"{reader.name} was never told that {self.bad} left",
                        self.name(needs[0]),
                        f"nothing within {within:g} s",
                        help=help,
                    )
                if isinstance(frame, bytes) or frame not in needs:
                    self.unexpected(reader, frame, needs[0], help)
                needs.remove(frame)
            self.told.add(reader.name)
        self.pending = []

    async def send(self) -> None:
        number = len(self.sent)
        text = flood_text(number)
        self.sent.append(f"Client #{self.sender.id}: {text}")
        label = f"message #{number} ({SIZE // 1024} KiB)"
        self.sender.transcript.alias(self.sent[-1], label)
        self.started = time.monotonic()
        try:
            await self.sender.send(text, label=label)
        except Closed:
            raise Failure(
                f"{self.sender.name} tried to send {self.last}, but the server had closed "
                "its connection",
                help=CLOSED_HELP,
            ) from None

    async def receive(self, reader: Client, within: float) -> str | bytes | None:
        """The next frame `reader` gets within `within` seconds, or None."""
        try:
            return await reader.poll(max(within, 0.05))
        except Closed as closed:
            code = f" with code {closed.code}" if closed.code else " without a close frame"
            raise Failure(
                f"{reader.name} was waiting for {self.last}, but the server closed its "
                f"connection{code}",
                help=CLOSED_HELP,
            ) from None

    async def deliver(self, reader: Client, within: float) -> bool:
        """Whether `reader` got the last message within `within` of its sending."""
        wanted = self.sent[-1]
        while True:
            frame = await self.receive(reader, self.started + within - time.monotonic())
            if frame is None:
                return False
            if frame == wanted:
                return True
            if frame == self.left and reader.name not in self.told:
                self.told.add(reader.name)
                # Announced before the message in flight: that one came after the cut.
                self.cut_at = self.cut_at or len(self.sent) - 1
            elif self.strict or not str(frame).startswith(f"Client #{self.bad}"):
                self.unexpected(reader, frame, wanted, DEAD_HELP)

    async def drain(self, client: Client, first: list[str]) -> int | None:
        """`client` reads at last: `first`, then part of what was sent before the cut, in
        order, then the close. The close code; None if it ended without a close frame."""
        wanted = [*first, *self.sent[: self.cut_at]]
        within = scaled(SETTLE)
        transcript = client.transcript
        start = len(transcript)  # one line for the whole read, not one per frame
        got = 0
        while True:
            try:
                frame = await client.poll(within)
            except Closed as closed:
                how = f" with code {closed.code}" if closed.code else " without a close frame"
                transcript.fold(
                    start, f"{client.name} read {got} frames, then its connection was closed{how}"
                )
                return closed.code
            if frame is None:
                transcript.fold(start, f"{client.name} read {got} frames, then nothing came")
                raise Missing(
                    f"{client.name} was announced as left, but its connection was never closed",
                    "the connection closed with code 1008",
                    f"still open after {got} frames and {within:g} s of silence",
                    help="Cutting a client off means closing its connection (code 1008), "
                    "not only forgetting it. The close frame waits behind what the client "
                    "has not read yet: send it from a task of its own, without a timeout.",
                )
            if got >= len(wanted) or frame != wanted[got]:
                transcript.fold(start, f"{client.name} read {got} frames, then {self.name(frame)}")
                raise Mismatch(
                    f"{client.name} should find what was sent to it before it was cut off, "
                    "in order, and then the close",
                    self.name(wanted[got]) if got < len(wanted) else "the close frame",
                    self.name(frame),
                    help="Send each client its messages in order, from a single writer, and "
                    "once it is cut off send it nothing but the close frame.",
                )
            got += 1

    def unexpected(self, reader: Client, frame: str | bytes, wanted: str, help: str) -> NoReturn:
        if frame == self.left:
            raise Mismatch(
                f"{reader.name} was told twice that {self.bad} left",
                self.name(wanted),
                self.name(frame),
                help=ONCE_HELP,
            )
        raise Mismatch(
            f"{reader.name} should have received {self.name(wanted)} next",
            self.name(wanted),
            self.name(frame),
            help="Every healthy client gets every message once and in order, and hears "
            f'"{self.left}" once. ' + help,
        )


@check()
async def chats_as_before(server: LiveServer) -> None:
    """Joins, messages and clean leaves reach everyone as in broadcast, once each."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol", exact=True)
    await chat.say(bob, "hello", alice, bob, carol)
    await carol.close()
    for client in (alice, bob):
        await client.expect(
            "Client #carol left",
            help="When receive_text() raises WebSocketDisconnect, remove the client and "
            "announce that it left.",
        )
    await chat.marker(alice, alice, bob, help="Each event is broadcast exactly once.")
    await chat.join(server, "dave", present=(alice, bob), exact=True)
    server.expect_no_errors("while clients joined, chatted and left", help=ERRORS_HELP)


@check()
async def keeps_up_with_a_burst_by_default(server: LiveServer) -> None:
    """With the module's own limits, a burst of 100 messages sent at once reaches
    everyone, in order, and nobody is cut off."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    texts = [f"burst {n}" for n in range(100)]
    await alice.send_at_once(texts)
    help_ = (
        "A burst is not a slow client: keep the default limits generous (QUEUE_SIZE = 1000, "
        "as the lesson gives); the checks make them small only where they say so."
    )
    for client in (alice, bob, carol):
        for text in texts:
            await client.expect(f"Client #alice: {text}", help=help_)
    await chat.marker(bob, alice, bob, carol, help=ONCE_HELP)


@check()
async def survives_dropped_client(server: LiveServer) -> None:
    """When bob's connection drops without a close handshake, the others are told
    "Client #bob left", once, and keep chatting."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    bob.drop()
    for client in (alice, carol):
        await client.expect(
            "Client #bob left",
            help="A dropped connection also ends receive_text() with WebSocketDisconnect: "
            "remove the client and announce it, as for a clean close.",
        )
    await chat.marker(carol, alice, carol, help=ONCE_HELP)
    (dave,) = await chat.join(server, "dave", present=(alice, carol))
    await chat.say(alice, "still here", alice, carol, dave, help=ONCE_HELP)
    server.expect_no_errors("when bob's connection dropped", help=ERRORS_HELP)


@check(depends=survives_dropped_client, settings=ROOMY)
async def survives_drop_mid_send(server: LiveServer) -> None:
    """A client that vanishes while a send to it is pending is announced as left once,
    and the others get every message."""
    alice, stuck, bob = await chat.join(server, "alice", "stuck", "bob", stalled="stuck")
    flood = Flood(alice, [alice, bob], "stuck")
    # Past what the socket buffers absorb: sends to stuck are pending from now on.
    await flood.run_until_stuck(FILL)
    stuck.drop()
    await flood.settle(help=DEAD_HELP)
    await chat.marker(alice, alice, bob, help=ONCE_HELP)
    await chat.say(bob, "and me", alice, bob, help=ONCE_HELP)
    server.expect_no_errors("when a client vanished with a send to it pending", help=ERRORS_HELP)


@check(depends=survives_dropped_client, settings=ROOMY)
async def survives_close_mid_send(server: LiveServer) -> None:
    """A client that closes while a send to it is pending is announced as left once,
    and the others get every message."""
    alice, stuck, bob = await chat.join(server, "alice", "stuck", "bob", stalled="stuck")
    flood = Flood(alice, [alice, bob], "stuck")
    await flood.run_until_stuck(FILL)
    # stuck sends its close frame but never reads the reply, so its close would wait a
    # second before giving up: run it aside, and cut the connection once it is announced.
    closing = asyncio.create_task(stuck.close())
    for reader in flood.readers:
        if reader not in flood.pending and reader.name not in flood.told:
            await reader.expect(
                "Client #stuck left",
                help="The close frame ends stuck's receive_text() with WebSocketDisconnect, "
                "even while a send to it is pending: remove it and announce it then.",
            )
            flood.told.add(reader.name)
    stuck.drop()
    await closing
    await flood.settle(help=DEAD_HELP)
    await chat.marker(alice, alice, bob, help=ONCE_HELP)
    await chat.say(bob, "and me", alice, bob, help=ONCE_HELP)
    server.expect_no_errors("when a client closed with a send to it pending", help=ERRORS_HELP)


@check(settings=LIMITS)
async def slow_reader_never_stalls_others(server: LiveServer) -> None:
    """While one client has stopped reading, every message still reaches the others
    within a second."""
    alice, slow, bob = await chat.join(server, "alice", "slow", "bob", stalled="slow")
    await Flood(alice, [alice, bob], "slow", strict=False).run(CAP, until_left=True)


@check(depends=slow_reader_never_stalls_others, settings=LIMITS)
async def cuts_off_slow_reader(server: LiveServer) -> None:
    """A client that falls QUEUE_SIZE messages behind is cut off and announced as
    "Client #slow left", once, even when it then vanishes."""
    alice, slow, bob = await chat.join(server, "alice", "slow", "bob", stalled="slow")
    flood = Flood(alice, [alice, bob], "slow")
    await flood.run_until_cut_off()
    if not flood.everyone_told:
        untold = " and ".join(r.name for r in flood.readers if r.name not in flood.told)
        raise Failure(
            f"alice sent {len(flood.sent)} messages of 64 KiB that slow never read, the last "
            f'{scaled(PATIENCE):g} s of them slowly, and {untold} never heard "Client #slow left": '
            "slow was not cut off, or was cut off without a word",
            help="Bound each client's backlog: asyncio.Queue(maxsize=QUEUE_SIZE) filled "
            "with put_nowait(), where QueueFull means the client is too far behind; cut it "
            "off and announce it. The checks set QUEUE_SIZE = 8: read it when a client "
            "connects, not at import time.",
        )
    await chat.marker(alice, alice, bob, help=ONCE_HELP)
    # slow never reads its close frame: it vanishes, and the pending close fails. Its
    # socket is closed before the markers go out, so the server handles the drop before
    # the second marker at the latest.
    slow.drop()
    await slow.wait_closed()
    await chat.say(bob, "and me", alice, bob, help=ONCE_HELP)
    await chat.say(alice, "still here", alice, bob, help=ONCE_HELP)
    server.expect_no_errors("when a client that was cut off vanished", help=ERRORS_HELP)


@check(depends=cuts_off_slow_reader)
async def keeps_its_tasks(submission: Submission) -> None:
    """Every task the app starts is kept (in a set, or an attribute) until it ends:
    asyncio holds tasks weakly, and a task nobody holds can vanish mid-flight."""
    submission.expect_tasks_kept()


@check(depends=cuts_off_slow_reader, settings=LIMITS)
async def closes_slow_reader_with_1008(server: LiveServer) -> None:
    """When the client that was cut off reads again, it finds what was sent to it before,
    in order, and then close code 1008."""
    alice, slow, bob = await chat.join(server, "alice", "slow", "bob", stalled="slow")
    flood = Flood(alice, [alice, bob], "slow")
    await flood.run_until_cut_off()
    if not flood.everyone_told:
        raise Failure(f"alice sent {len(flood.sent)} messages and slow was never announced as left")
    # Once cut off, slow is sent nothing more: these must not reach it.
    await flood.run(5)
    # slow reads at last: part of what was sent before it was cut off, then the close.
    code = await flood.drain(slow, ["Client #slow joined", "Client #bob joined"])
    if code != 1008:
        raise Mismatch(
            "slow's connection was closed with the wrong code",
            "the connection closed with code 1008",
            f"closed with code {code}" if code else "dropped without a close frame",
            help="Close a client that cannot keep up with "
            "websocket.close(code=status.WS_1008_POLICY_VIOLATION), from a task of its own.",
        )
    # slow's endpoint sees its disconnect only now, and must not announce it again.
    await chat.say(alice, "after the close", alice, bob, help=ONCE_HELP)
    server.expect_no_errors("while cutting off a slow client", help=ERRORS_HELP)


@check(depends=closes_slow_reader_with_1008, settings=LIMITS)
async def slow_id_can_rejoin(server: LiveServer) -> None:
    """After slow is cut off, it can join again with the same id, and the end of its old
    connection leaves the new one alone."""
    alice, slow, bob = await chat.join(server, "alice", "slow", "bob", stalled="slow")
    flood = Flood(alice, [alice, bob], "slow")
    await flood.run_until_cut_off()
    again = await server.connect("/ws/slow", "slow (again)")
    for client in (alice, bob, again):
        await client.expect("Client #slow joined")
    # The old connection reads up and is closed: its endpoint ends only now.
    await flood.drain(slow, ["Client #slow joined", "Client #bob joined"])
    help = (
        "When the old connection finally ends, forget that connection, not whoever uses "
        "its id now: compare the WebSocket objects (or key your clients by WebSocket)."
    )
    await chat.say(again, "back again", alice, bob, again, help=help)
    await chat.marker(alice, alice, bob, again, help=help)
    server.expect_no_errors("when a cut-off client came back", help=ERRORS_HELP)
