"""One load-generator process of the fan-out benchmark: a share of its clients.

Forked by bench/measure.py (or run as `python -m bench.loadgen '<json config>'`). It opens
its clients, then obeys one-word commands on stdin and reports JSON lines on stdout:

    (start)   connect every client      -> {"event": "connected"} or {"event": "error"}
    stall     open one client that completes the handshake, then never reads
                                        -> {"event": "stall-open"}
    sync      client 0 sends "sync"     -> {"event": "synced"} once all clients got it
    go        each sender sends `messages` chat messages, one at a time: the next one
              when its own copy is back (closed loop)
                                        -> {"event": "done"} once every client got all
    report    -> {"event": "report", ...} latencies and counters so far
    (any time, every 0.2 s)             -> {"event": "progress", "frames": n}
    (the server drops a reading client) -> {"event": "error", "reason": ...}, once

A chat message carries its send time, `t<monotonic_ns> <seq> <padding>`; on Linux the
monotonic clock is one clock for every process, so a receiver's latency is exact.
Stdin closing ends the process: the coordinator dying takes its load with it.
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
    port: int
    prefix: str
    clients: int
    senders: int
    messages: int
    payload: int
    expect: int
    """Chat messages every client must receive: all senders' messages, over all processes."""
    timeout: float = 30.0


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

        async def one(index: int) -> Client:
            async with gate:
                client = await self._open(f"/ws/{self.config.prefix}c{index}", self.on_text)
                client.on_lost = self.on_lost
                return client

        self.clients = list(await asyncio.gather(*(one(i) for i in range(self.config.clients))))
        for client in self.clients[: self.config.senders]:
            client.echo = asyncio.Event()
            client.echo_prefix = f"Client #{client.path.rsplit('/', 1)[1]}: t".encode()

    async def _open(self, path: str, on_text: OnText, rcvbuf: int | None = None) -> Client:
        c = self.config
        return await connect(c.host, c.port, path, on_text, c.timeout, rcvbuf)

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
        self.latencies.append(latency)
        self.max_ns = max(self.max_ns, latency)
        self.chat += 1
        self.last_ns = now
        client.received += 1
        if client.received == self.config.expect:
            self.finished += 1
            if self.finished == len(self.clients):
                emit("done")
        if client.echo is not None and message.startswith(client.echo_prefix):
            client.echo.set()

    async def send_loop(self, client: Client) -> None:
        assert client.echo is not None
        for seq in range(self.config.messages):
            head = b"t%d %d " % (time.monotonic_ns(), seq)
            client.echo.clear()
            client.send_text(head + b"x" * max(0, self.config.payload - len(head)))
            await client.echo.wait()

    def report(self) -> None:
        samples = self.latencies.tolist()
        if len(samples) > MAX_SAMPLES:
            samples = random.sample(samples, MAX_SAMPLES)
        emit(
            "report",
            latencies_ns=samples,
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
