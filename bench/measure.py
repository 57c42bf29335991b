"""One measured run of the fan-out benchmark: one server, one load, fresh processes.

The coordinator (this module, in the benchmark's process) starts the server, checks
that it answers (`/ws/bench-probe` must hear `Client #bench-probe joined`), starts the
load-generator processes (bench/loadgen.py), and moves them through their phases,
synchronising on messages only: all connected -> (the never-reading client opens) ->
a "sync" message reached every client -> go -> every client got every message. Each
wait is bounded: a phase in which no frame at all arrives for `stall_after` seconds
ends the run as stalled, and no phase may last longer than `PHASE_CAP` seconds.
Everything started is killed in `finally`, the server first (so that no leave storm
of N "left" broadcasts runs while the load shuts down).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

import psutil

from bench import loadgen
from bench.servers import BenchServer, CouldNotStart, last_error
from bench.wsclient import HandshakeError, connect

HOST = "127.0.0.1"
PHASE_CAP = 30.0
STARTUP = 10.0
STALLED = "stalled"
MIN_CPU_WALL = 0.5  # seconds: CPU use is reported for measurements at least this long


@dataclass(frozen=True)
class Load:
    clients: int
    senders: int
    messages: int
    payload: int
    stalled_client: bool = False
    stall_after: float = 5.0
    workers: int = 2


@dataclass
class Outcome:
    error: str | None = None
    """None when the run completed; otherwise why not (STALLED: deliveries stopped)."""
    answered: bool = True
    """False when the server did not even start or greet a first client."""
    deliveries: int = 0
    expected: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    """Every send->receipt latency measured (or a uniform sample), sorted."""
    max_ms: float = 0.0
    server_cpu_pct: float | None = None
    loadgen_cpu_pct: float | None = None
    loadgen_busiest_pct: float | None = None

    @property
    def deliveries_per_s(self) -> float:
        return self.deliveries / self.seconds if self.seconds > 0 else 0.0

    def quantile_ms(self, q: float) -> float | None:
        """The nearest-rank q-quantile of the latencies (None if nothing arrived)."""
        if not self.latencies_ms:
            return None
        return self.latencies_ms[max(0, math.ceil(q * len(self.latencies_ms)) - 1)]


class LoadProcess:
    """One load-generator process (bench/loadgen.py), forked from this one.

    Forked rather than started afresh: a new interpreter costs a few hundred ms per run,
    a fork a few. Fork outside a running event loop (Python 3.11 keeps the running loop
    in the child), then `attach` inside one. Commands go down a pipe, events come back
    as JSON lines up another.
    """

    def __init__(self, config: loadgen.Config) -> None:
        command_in, self._command_out = os.pipe()
        self._event_in, event_out = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child never returns
            _child(config, command_in, event_out)
        os.close(command_in)
        os.close(event_out)
        self.events: dict[str, dict] = {}
        self.frames = 0
        self.ended = False
        self._transports: list[asyncio.BaseTransport] = []
        self._reader: asyncio.Task[None] | None = None

    async def attach(self, news: asyncio.Event) -> None:
        """Start reading events; `news` is set on each (progress aside) and at the end."""
        loop = asyncio.get_running_loop()
        lines = asyncio.StreamReader(limit=1 << 28)  # a report may be a few MB long
        events = open(self._event_in, "rb", buffering=0)  # noqa: SIM115 - the transport's
        commands = open(self._command_out, "wb", buffering=0)  # noqa: SIM115
        read, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lines), events)
        write, _ = await loop.connect_write_pipe(asyncio.Protocol, commands)
        self._transports = [read, write]
        self._reader = asyncio.create_task(self._read(lines, news))

    async def _read(self, lines: asyncio.StreamReader, news: asyncio.Event) -> None:
        while line := await lines.readline():
            message = json.loads(line)
            if message["event"] == "progress":
                self.frames = message["frames"]
            else:
                self.events[message["event"]] = message
                news.set()
        self.ended = True
        news.set()

    def tell(self, command: str) -> None:
        write = self._transports[1]
        assert isinstance(write, asyncio.WriteTransport)
        if not write.is_closing():
            write.write(command.encode() + b"\n")

    def cpu_seconds(self) -> float:
        return _cpu(self.pid)

    def kill(self) -> None:
        """Kill and reap the process, and close our ends of its pipes; safe to call twice."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0
        if self._reader is not None:
            self._reader.cancel()
        if self._transports:  # inside the loop: the transports own the pipes
            for transport in self._transports:
                transport.close()
            self._transports = []
        elif self._event_in >= 0:
            os.close(self._event_in)
            os.close(self._command_out)
        self._event_in = self._command_out = -1


def _child(config: loadgen.Config, command_in: int, event_out: int) -> NoReturn:
    code = 70
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd, target in ((command_in, 0), (event_out, 1), (null, 2)):
            os.dup2(fd, target)
        os.closerange(3, 1 << 16)  # nothing of the coordinator's: its pipes must see EOF
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        code = asyncio.run(loadgen.main(config))
    except BaseException:  # noqa: B036 - whatever happens, the child must not return
        pass
    finally:
        os._exit(code)


def measure(make_server: Callable[[], BenchServer], load: Load) -> Outcome:
    """Run `load` against a fresh server; never raises for a server that misbehaves."""
    server = make_server()
    procs: list[LoadProcess] = []
    try:
        server.start()
        problem = asyncio.run(_probe(server.port))
        if problem is not None:
            cause = last_error(server.log())
            reason = f"{problem}; the server raised {cause}" if cause else problem
            return Outcome(error=reason, answered=False)
        procs = [LoadProcess(_config(server.port, load, i)) for i in range(load.workers)]
        return asyncio.run(_drive(server, load, procs))
    except CouldNotStart as exc:
        return Outcome(error=exc.message, answered=False)
    finally:
        server.stop()
        for proc in procs:
            proc.kill()


async def _probe(port: int) -> str | None:
    """Why the server does not work, or None: it must greet a first client."""
    greeted = asyncio.get_running_loop().create_future()

    def on_text(_: object, message: bytes) -> None:
        if not greeted.done():
            greeted.set_result(message)

    client = None
    try:
        client = await connect(HOST, port, "/ws/bench-probe", on_text, STARTUP)
        async with asyncio.timeout(5):
            first = await greeted
    except HandshakeError as exc:
        return str(exc)
    except TimeoutError:
        return "no greeting within 5 s" if client else f"no handshake within {STARTUP:g} s"
    except OSError as exc:
        return f"could not connect ({exc.strerror or exc})"
    finally:
        if client is not None:
            client.close()
    if first != b"Client #bench-probe joined":
        return f"greeted a newcomer with {first[:60]!r}, not b'Client #bench-probe joined'"
    return None


def _config(port: int, load: Load, index: int) -> loadgen.Config:
    return loadgen.Config(
        host=HOST,
        port=port,
        prefix=f"w{index}",
        clients=load.clients // load.workers + (index < load.clients % load.workers),
        # Spread like the clients, so no process gets more senders than clients.
        senders=load.senders // load.workers + (index < load.senders % load.workers),
        messages=load.messages,
        payload=load.payload,
        expect=load.senders * load.messages,
    )


async def _drive(server: BenchServer, load: Load, procs: list[LoadProcess]) -> Outcome:
    news = asyncio.Event()
    try:
        for proc in procs:
            await proc.attach(news)
        return await _phases(server, load, procs, news)
    finally:
        server.stop()  # first: no storm of N "left" broadcasts while the load goes away
        for proc in procs:
            proc.kill()


async def _until(
    workers: list[LoadProcess], event: str, load: Load, news: asyncio.Event, errors: bool = True
) -> str | None:
    """Wait until every worker reported `event`; None, or why that did not happen.

    An error a worker reported ends the wait, unless `errors` is False.
    """
    started = last_change = time.monotonic()
    last_frames = -1
    while not all(event in w.events for w in workers):
        for worker in workers:
            if errors and "error" in worker.events:
                return str(worker.events["error"]["reason"])
            if worker.ended:
                return "a load-generator process ended unexpectedly"
        now = time.monotonic()
        frames = sum(w.frames for w in workers)
        if frames != last_frames:
            last_frames, last_change = frames, now
        elif now - last_change > load.stall_after:
            return STALLED
        if now - started > PHASE_CAP:
            return f"{event!r} not reached within {PHASE_CAP:g} s"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(news.wait(), 0.1)
        news.clear()
    return None


async def _phases(
    server: BenchServer, load: Load, workers: list[LoadProcess], news: asyncio.Event
) -> Outcome:
    expected = load.clients * load.senders * load.messages
    problem = await _until(workers, "connected", load, news)
    if problem is None and load.stalled_client:
        workers[0].tell("stall")
        problem = await _until(workers[:1], "stall-open", load, news)
    if problem is None:
        workers[0].tell("sync")
        problem = await _until(workers, "synced", load, news)
    if problem == STALLED:
        problem = f"no frame arrived for {load.stall_after:g} s"
    if problem is not None:
        return Outcome(error=f"{problem}, before the measurement began")
    server_cpu = _cpu(server.pid)
    loadgen_cpu = [w.cpu_seconds() for w in workers]
    go_ns = time.monotonic_ns()
    for worker in workers:
        worker.tell("go")
    problem = await _until(workers, "done", load, news)
    wall = (time.monotonic_ns() - go_ns) / 1e9
    if problem not in (None, STALLED):
        problem = f"{problem}, during the measurement"
    outcome = Outcome(error=problem, expected=expected)
    if wall >= MIN_CPU_WALL:  # CPU time comes in 10 ms ticks: a shorter run can't tell
        outcome.server_cpu_pct = 100 * (_cpu(server.pid) - server_cpu) / wall
        spent = [w.cpu_seconds() - cpu for w, cpu in zip(workers, loadgen_cpu, strict=True)]
        outcome.loadgen_cpu_pct = 100 * sum(spent) / wall
        outcome.loadgen_busiest_pct = 100 * max(spent) / wall
    for worker in workers:
        worker.events.pop("report", None)
        worker.tell("report")
    patient = dataclasses.replace(load, stall_after=10.0)
    if await _until(workers, "report", patient, news, errors=False):
        outcome.error = outcome.error or "the load generator did not report"
        return outcome
    reports = [w.events["report"] for w in workers]
    outcome.deliveries = sum(r["deliveries"] for r in reports)
    last_ns = max(r["last_ns"] for r in reports)
    outcome.seconds = (last_ns - go_ns) / 1e9 if last_ns else wall
    outcome.latencies_ms = sorted(ns / 1e6 for r in reports for ns in r["latencies_ns"])
    outcome.max_ms = max(r["max_ns"] for r in reports) / 1e6
    return outcome


def _cpu(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system
