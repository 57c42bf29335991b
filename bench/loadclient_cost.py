"""What a load client costs: the CPU one delivered message takes in the client process.

The fan-out benchmark's load must cost far less than the server it measures, which is
why its load generator uses a hand-rolled client (bench/wsclient.py). This measures that
choice against the alternatives, side by side in one run, against one anchor server
(bench/anchor.py): N clients, S of them sending M messages each in a closed loop (the
next one when their own copy is back), every client parsing the send time out of every
chat message, as bench/loadgen.py does. Each client kind runs in a fresh interpreter of
its own, which reports its CPU time (all threads) from the first send to the last
delivery; the kinds take turns, round after round, so a busy machine slows all alike.

    raw          bench/wsclient.py: one asyncio Protocol, frames parsed in place
    sansio       websockets' protocol objects (ClientProtocol) under a minimal asyncio
                 Protocol: the library's parser and checks, without its connection layer
    asyncio      websockets.asyncio.client: the library's own asyncio client
    sync         websockets.sync.client: one thread per connection, plus one per reader

Prints microseconds of client CPU per delivery (median over --rounds, and the range) and
each kind's ratio to raw; the ratios are what to read, not the absolute figures.

    .venv/bin/python -m bench.loadclient_cost [--clients 50] [--senders 4]
        [--messages 100] [--rounds 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect as asyncio_connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect as sync_connect
from websockets.uri import parse_uri

from bench import wsclient
from bench.servers import AnchorServer

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("raw", "sansio", "asyncio", "sync")


@dataclass(frozen=True)
class Work:
    port: int
    clients: int
    senders: int
    messages: int

    @property
    def deliveries(self) -> int:
        return self.clients * self.senders * self.messages


class Tally:
    """What every client received; `done` once each got every chat message."""

    def __init__(self, work: Work) -> None:
        self.work = work
        self.received = [0] * work.clients
        self.finished = 0
        self.deliveries = 0
        self.latest_ns = 0
        self.done = threading.Event()

    def chat(self, index: int, message: bytes) -> bool:
        """Count a message for client `index`, as loadgen does; whether it was chat."""
        mark = message.find(b": t", 0, 80)
        if mark < 0:
            return False
        self.latest_ns = int(message[mark + 3 : message.index(b" ", mark + 3)])
        self.deliveries += 1
        self.received[index] += 1
        if self.received[index] == self.work.senders * self.work.messages:
            self.finished += 1
            if self.finished == self.work.clients:
                self.done.set()
        return True


def payload(seq: int) -> bytes:
    head = b"t%d %d " % (time.monotonic_ns(), seq)
    return head + b"x" * (64 - len(head))


def echo_of(index: int) -> bytes:
    return f"Client #c{index}: t".encode()


class Exchange:
    """An asyncio run's bookkeeping, whichever client it uses: who has heard the last
    join, whose echo came back; and the load itself, each sender waiting for its echo."""

    def __init__(self, work: Work, tally: Tally) -> None:
        self.work = work
        self.tally = tally
        self.echoes = [asyncio.Event() for _ in range(work.senders)]
        self.last_join = f"Client #c{work.clients - 1} joined".encode()
        self.seen_last = [False] * work.clients

    def on_message(self, index: int, message: bytes) -> None:
        if not self.tally.chat(index, message):
            self.seen_last[index] = self.seen_last[index] or message == self.last_join
        elif index < self.work.senders and message.startswith(echo_of(index)):
            self.echoes[index].set()

    async def load(self, send: Callable[[int, bytes], Awaitable[None]]) -> float:
        """Once the last join reached everyone (the load starts on a quiet server), each
        sender sends its messages one echo at a time; the CPU this took."""
        while not all(self.seen_last):
            await asyncio.sleep(0.01)

        async def sender(i: int) -> None:
            for seq in range(self.work.messages):
                self.echoes[i].clear()
                await send(i, payload(seq))
                await self.echoes[i].wait()

        return await timed(self.tally, [sender(i) for i in range(self.work.senders)])


async def run_raw(work: Work, tally: Tally) -> float:
    exchange = Exchange(work, tally)

    def handler(index: int) -> Callable[[wsclient.Client, bytes], None]:
        return lambda _, message: exchange.on_message(index, message)

    clients = [
        await wsclient.connect("127.0.0.1", work.port, f"/ws/c{i}", handler(i), 30)
        for i in range(work.clients)
    ]

    async def send(i: int, data: bytes) -> None:
        clients[i].send_text(data)

    cpu = await exchange.load(send)
    for client in clients:
        client.close()
    return cpu


class SansIO(asyncio.Protocol):
    """websockets' ClientProtocol (handshake, framing, checks) on a bare transport."""

    def __init__(self, uri: str, on_message: Callable[[bytes], None]) -> None:
        self.protocol = ClientProtocol(parse_uri(uri))
        self.request = self.protocol.connect()
        self.on_message = on_message
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.protocol.send_request(self.request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self.on_message(bytes(event.data))
            elif not self.opened.done():  # the handshake response
                if self.protocol.handshake_exc is not None:
                    self.opened.set_exception(self.protocol.handshake_exc)
                else:
                    self.opened.set_result(None)
        self._flush()

    def send_text(self, data: bytes) -> None:
        self.protocol.send_text(data)
        self._flush()

    def _flush(self) -> None:
        assert self.transport is not None
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)


def _same(protocol: SansIO) -> SansIO:
    return protocol


async def run_sansio(work: Work, tally: Tally) -> float:
    loop = asyncio.get_running_loop()
    exchange = Exchange(work, tally)
    clients: list[SansIO] = []
    for i in range(work.clients):
        protocol = SansIO(
            f"ws://127.0.0.1:{work.port}/ws/c{i}", functools.partial(exchange.on_message, i)
        )
        await loop.create_connection(functools.partial(_same, protocol), "127.0.0.1", work.port)
        await protocol.opened
        clients.append(protocol)

    async def send(i: int, data: bytes) -> None:
        clients[i].send_text(data)

    cpu = await exchange.load(send)
    for client in clients:
        assert client.transport is not None
        client.transport.close()
    return cpu


async def run_asyncio(work: Work, tally: Tally) -> float:
    exchange = Exchange(work, tally)
    uri = f"ws://127.0.0.1:{work.port}/ws/c"
    clients = [await asyncio_connect(f"{uri}{i}", compression=None) for i in range(work.clients)]

    async def read(i: int) -> None:
        while True:
            exchange.on_message(i, await clients[i].recv(decode=False))

    readers = [asyncio.create_task(read(i)) for i in range(work.clients)]

    async def send(i: int, data: bytes) -> None:
        await clients[i].send(data.decode())

    cpu = await exchange.load(send)
    for task in readers:
        task.cancel()
    for client in clients:
        client.transport.abort()
    return cpu


async def timed(tally: Tally, senders: list[Awaitable[None]]) -> float:
    """CPU seconds of this process (all threads) from the first send to the last delivery."""
    started = time.process_time()
    await asyncio.gather(*senders)
    while not tally.done.is_set():
        await asyncio.sleep(0.001)
    return time.process_time() - started


def run_sync(work: Work, tally: Tally) -> float:
    echoes = [threading.Event() for _ in range(work.senders)]
    last_join = f"Client #c{work.clients - 1} joined".encode()
    joined = threading.Barrier(work.clients + 1)
    uri = f"ws://127.0.0.1:{work.port}/ws/c"
    clients = [sync_connect(f"{uri}{i}", compression=None) for i in range(work.clients)]
    lock = threading.Lock()  # the tally is shared by every reader thread

    def read(i: int) -> None:
        with contextlib.suppress(Exception):  # the connection closed: the thread ends
            while True:
                message = clients[i].recv(decode=False)
                with lock:
                    chat = tally.chat(i, message)
                if not chat:
                    if message == last_join:
                        joined.wait()
                elif i < work.senders and message.startswith(echo_of(i)):
                    echoes[i].set()

    readers = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(work.clients)]
    for reader in readers:
        reader.start()
    joined.wait()

    def send(i: int) -> None:
        for seq in range(work.messages):
            echoes[i].clear()
            clients[i].send(payload(seq).decode())
            echoes[i].wait()

    started = time.process_time()
    senders = [threading.Thread(target=send, args=(i,)) for i in range(work.senders)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    tally.done.wait()
    cpu = time.process_time() - started
    for client in clients:
        client.close()
    return cpu


def child(kind: str, work: Work) -> dict[str, float | int]:
    """Run one kind in this process; what it measured."""
    tally = Tally(work)
    runners: dict[str, Callable[[Work, Tally], Coroutine[Any, Any, float]]] = {
        "raw": run_raw,
        "sansio": run_sansio,
        "asyncio": run_asyncio,
    }
    if kind == "sync":
        cpu = run_sync(work, tally)
    else:
        cpu = asyncio.run(runners[kind](work, tally))
    return {"cpu_s": cpu, "deliveries": tally.deliveries}


@dataclass(frozen=True)
class Cost:
    """One kind's cost over every round: µs of client CPU per delivery."""

    kind: str
    per_delivery_us: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.per_delivery_us)


def measure(work: Work, kinds: list[str], rounds: int, timeout: float = 120) -> list[Cost]:
    """Each kind once per round, in a fresh interpreter, turn about (the starting kind
    rotates); raise RuntimeError if a kind failed or lost a delivery."""
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    for r in range(rounds):
        for kind in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
            spec = json.dumps({"kind": kind, **work.__dict__})
            done = subprocess.run(
                [sys.executable, "-m", "bench.loadclient_cost", "--child", spec],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"{kind}: {done.stderr.strip()[-400:]}")
            figures = json.loads(done.stdout)
            if figures["deliveries"] != work.deliveries:
                raise RuntimeError(
                    f"{kind}: {figures['deliveries']} deliveries, not {work.deliveries}"
                )
            samples[kind].append(1e6 * figures["cpu_s"] / work.deliveries)
    return [Cost(kind, tuple(values)) for kind, values in samples.items()]


def table(costs: list[Cost], work: Work, rounds: int) -> str:
    base = costs[0].median
    lines = [
        f"Load-client CPU per delivery: N={work.clients}, {work.senders} senders x "
        f"{work.messages} messages ({work.deliveries:,} deliveries a run), {rounds} rounds",
        f"{'client':<9}{'µs/delivery':>13}{'range':>17}{'x ' + costs[0].kind:>9}",
    ]
    for cost in costs:
        low, high = min(cost.per_delivery_us), max(cost.per_delivery_us)
        lines.append(
            f"{cost.kind:<9}{cost.median:>13.1f}{f'{low:.1f}-{high:.1f}':>17}"
            f"{cost.median / base:>9.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loadclient_cost", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated, raw first")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        kind = spec.pop("kind")
        print(json.dumps(child(kind, Work(**spec))))
        return 0
    kinds = [k for k in args.kinds.split(",") if k]
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"unknown client kinds {sorted(unknown)}; choose among {', '.join(KINDS)}")
    with tempfile.TemporaryDirectory(prefix="loadclient-") as scratch:
        anchor = AnchorServer(Path(scratch))
        try:
            anchor.start()
            work = Work(anchor.port, args.clients, min(args.senders, args.clients), args.messages)
            costs = measure(work, kinds, args.rounds)
        except RuntimeError as exc:
            print(f"loadclient_cost: {exc}", file=sys.stderr)
            return 1
        finally:
            anchor.stop()
    print(table(costs, work, args.rounds))
    if args.json:
        base = costs[0].median
        figures = {
            c.kind: {"us_per_delivery": list(c.per_delivery_us), "ratio_to_first": c.median / base}
            for c in costs
        }
        args.json.write_text(json.dumps({"work": work.__dict__, "kinds": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
