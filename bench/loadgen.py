"""One load-generator process of the fan-out benchmark: a share of its clients.

Forked by bench/measure.py (or run as `python -m bench.loadgen '<json config>'`). It opens
its clients, then obeys one-word commands on stdin and reports JSON lines on stdout:

    (start)   connect every client      -> {"event": "connected"} or {"event": "error"}
    stall     open one client that completes the handshake, then never reads
                                        -> {"event": "stall-open"}
    sync      client 0 sends "sync"     -> {"event": "synced"} once all clients got it
    go        each sender sends `messages` chat messages, one at a time: the next one
              when its own copy is back (closed loop; see below for several servers)
                                        -> {"event": "done"} once every client got all
    report    -> {"event": "report", ...} latencies and counters so far
    (any time, every 0.2 s)             -> {"event": "progress", "frames": n}
    (the server drops a reading client) -> {"event": "error", "reason": ...}, once

A chat message carries its send time, `t<monotonic_ns> <seq> <padding>`; on Linux the
monotonic clock is one clock for every process, so a receiver's latency is exact.
Stdin closing ends the process: the coordinator dying takes its load with it.

A server of several processes (exercise scaleout: copies of the app joined by Redis)
has several `ports`. Clients are dealt out over them in turn, counting from `offset`
(this process's first client in the whole load), so the N clients of all load processes
split evenly, and so do the senders. A client's name starts with the letter of its
server process (`aw0c2` is on process a): a chat message whose sender's name starts with
another letter crossed from one server process to another, and its latency is kept
apart (reported as `crossed_ns`). The closed loop then waits for more than the own copy,
which the sender's process delivers at once (before it publishes): the next message
goes when the copy has also reached the first client of this load process on every other
server process (its "witness" there). So at most one message per sender is in flight
in the whole system, as with one process; otherwise the copies crossing through the
broker would pile up in a queue whose length depends on the run's length.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from bench.wsclient import Client, connect

OnText = Callable[[Client, bytes], None]

MAX_SAMPLES = 200_000  # latencies sent back per process; beyond this, a uniform sample
STALLED_RCVBUF = 4096


@dataclass(frozen=True)
class Config:
    host: str
    ports: tuple[int, ...]
    """One per server process; client j of this process uses ports[(offset + j) % P]."""
    prefix: str
    clients: int
    senders: int
    messages: int
    payload: int
    expect: int
    """Chat messages every client must receive: all senders' messages, over all processes."""
    offset: int = 0
    """The index of this process's first client among all the load's clients."""
    timeout: float = 30.0


def letter(server: int) -> str:
    """The name of server process `server`: a, b, ..."""
    return chr(ord("a") + server)


def emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


class Worker:
    """This process's clients, and what they measured."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.clients: list[Client] = []
        self.stalled: Client | None = None
        self.latencies = array("q")
        self.crossed = array("q")
        """The latencies of the deliveries from a sender on another server process."""
        self.servers = len(config.ports)
        self.senders: dict[bytes, Client] = {}
        """With several server processes: the senders of this process, by name."""
        self.max_ns = 0
        self.frames = 0
        self.chat = 0
        self.last_ns = 0
        self.synced = 0
        self.finished = 0
        self.lost = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def connect_all(self) -> None:
        gate = asyncio.Semaphore(64)
        c = self.config

        async def one(index: int) -> Client:
            server = (c.offset + index) % self.servers
            name = f"{c.prefix}c{index}"
            if self.servers > 1:
                name = letter(server) + name
            async with gate:
                client = await self._open(f"/ws/{name}", self.on_text, server=server)
                client.on_lost = self.on_lost
                if self.servers > 1:
                    client.home = ord(letter(server))
                return client

        self.clients = list(await asyncio.gather(*(one(i) for i in range(c.clients))))
        if self.servers > 1:  # the first client on each server process is its witness
            witnessed: set[int] = set()
            for client in self.clients:
                if client.home not in witnessed:
                    witnessed.add(client.home)
                    client.witness = True
        for client in self.clients[: c.senders]:
            name = client.path.rsplit("/", 1)[1]
            client.echo = asyncio.Event()
            client.echo_prefix = f"Client #{name}: t".encode()
            self.senders[name.encode()] = client

    async def _open(
        self, path: str, on_text: OnText, rcvbuf: int | None = None, server: int = 0
    ) -> Client:
        c = self.config
        return await connect(c.host, c.ports[server], path, on_text, c.timeout, rcvbuf)

    async def open_stalled(self) -> None:
        """A client that completes the handshake, then never reads again."""
        path = f"/ws/{self.config.prefix}stalled"
        self.stalled = await self._open(path, lambda client, message: None, STALLED_RCVBUF)
        assert self.stalled.transport is not None
        self.stalled.transport.pause_reading()

    def on_lost(self, client: Client) -> None:
        """A reading client lost its connection: the server dropped it. Say so, once."""
        self.lost += 1
        if self.lost == 1:
            name = client.path.rsplit("/", 1)[1]
            emit(
                "error",
                reason=f"the server closed client {name}'s connection {client.describe_close()}",
            )

    def on_text(self, client: Client, message: bytes) -> None:
        now = time.monotonic_ns()
        self.frames += 1
        mark = message.find(b": t", 0, 80)
        if mark < 0:
            if not client.synced and message.endswith(b": sync"):
                client.synced = True
                self.synced += 1
                if self.synced == len(self.clients):
                    emit("synced")
            return
        try:
            sent = int(message[mark + 3 : message.index(b" ", mark + 3)])
        except ValueError:
            return
        latency = now - sent
        if client.home < 0 or message[8] == client.home:  # b"Client #" is 8 bytes long
            self.latencies.append(latency)
        else:
            self.crossed.append(latency)
        self.max_ns = max(self.max_ns, latency)
        self.chat += 1
        self.last_ns = now
        client.received += 1
        if client.received == self.config.expect:
            self.finished += 1
            if self.finished == len(self.clients):
                emit("done")
        if client.echo is not None and message.startswith(client.echo_prefix):
            client.awaiting.discard(client.home)  # the own copy
            if not client.awaiting:
                client.echo.set()
        if client.witness and message[8] != client.home:  # from another server process
            sender = self.senders.get(message[8:mark])
            if sender is not None:
                sender.awaiting.discard(client.home)  # it reached this witness's process
                if not sender.awaiting:
                    assert sender.echo is not None
                    sender.echo.set()

    async def send_loop(self, client: Client) -> None:
        """Send `messages` messages, each once the one before reached every server process
        (with one server process: came back to the sender)."""
        assert client.echo is not None
        servers = {client.home} | {ord(letter(s)) for s in range(self.servers) if self.servers > 1}
        for seq in range(self.config.messages):
            head = b"t%d %d " % (time.monotonic_ns(), seq)
            client.echo.clear()
            client.awaiting = set(servers)
            client.send_text(head + b"x" * max(0, self.config.payload - len(head)))
            await client.echo.wait()

    def report(self) -> None:
        # One sampling rate for both kinds: together they stay a uniform sample of all.
        rate = min(1.0, MAX_SAMPLES / max(1, len(self.latencies) + len(self.crossed)))
        local, crossed = (sample(values, rate) for values in (self.latencies, self.crossed))
        emit(
            "report",
            latencies_ns=local,
            crossed_ns=crossed,
            crossed=len(self.crossed),
            max_ns=self.max_ns,
            deliveries=self.chat,
            last_ns=self.last_ns,
        )

    async def progress(self) -> None:
        reported = -1
        while True:
            if self.frames != reported:
                reported = self.frames
                emit("progress", frames=reported)
            await asyncio.sleep(0.2)

    async def obey(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            command = line.decode().strip()
            if command == "stall":
                try:
                    await self.open_stalled()
                except Exception as exc:  # reported to the coordinator, not raised
                    emit("error", reason=f"the never-reading client: {describe(exc)}")
                    continue
                emit("stall-open")
            elif command == "sync":
                self.clients[0].send_text(b"sync")
            elif command == "go":
                for client in self.clients[: self.config.senders]:
                    task = asyncio.create_task(self.send_loop(client))
                    self.tasks.add(task)
            elif command == "report":
                self.report()


def sample(values: array[int], rate: float) -> list[int]:
    """A uniform random sample of `values`, `rate` of them (all when rate is 1)."""
    items = values.tolist()
    if rate >= 1.0:
        return items
    return random.sample(items, round(len(items) * rate))


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out opening a WebSocket"
    return str(exc) or type(exc).__name__


async def main(config: Config) -> int:
    worker = Worker(config)
    ticker = asyncio.create_task(worker.progress())  # join messages count as progress too
    try:
        try:
            await worker.connect_all()
        except Exception as exc:  # reported to the coordinator, not raised
            emit("error", reason=describe(exc))
            return 1
        emit("connected")
        await worker.obey()
    finally:
        ticker.cancel()
        for client in worker.clients:
            client.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Config(**json.loads(sys.argv[1])))))
