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

A server of several processes (exercise scaleout: copies of the app joined by Redis)
gets one probe client per process, each greeted like the one above. Then each process
must pass a message on to the next (A -> B -> A): a process hears the others only once
it has subscribed to the broker, so its probe client sends again every `RESEND` s until
the next process's probe client hears it, for at most `CROSS_WITHIN` s. The clients of
the load are then dealt out over the server processes in turn (client k of the whole
load on process k mod P), and so are the senders: see bench/loadgen.py. A broker may
drop a message (Redis pub/sub is at most once, and an app may fail to publish while
the N "joined" messages of the connect phase crowd its connection pool), so the sync
message is sent again after `RESYNC` s without every client having it, up to
`SYNC_TRIES` times in all; the outcome counts the extra tries.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import psutil

from bench import loadgen
from bench.servers import BenchServer, last_error
from bench.stats import Latency
from bench.wsclient import Client, HandshakeError, connect
from grader.server import CouldNotStart

HOST = "127.0.0.1"
PHASE_CAP = 30.0
STARTUP = 10.0
CROSS_WITHIN = 10.0  # s for every server process to hear the others (to subscribe)
RESEND = 0.2  # s between two tries of a crossing probe message
RESYNC = 1.0  # s without "synced" before the sync message is sent again (several processes)
SYNC_TRIES = 5
PROBE = "bench-probe"
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
    """Load processes; with a server of P processes, at most N/P (P clients each, or more)."""


@dataclass(frozen=True)
class CpuUse:
    """% of one core used during a run's measurement."""

    server: float
    """Summed over the server processes."""
    server_busiest: float
    broker: float | None
    """The redis-server's, for a server that has one."""
    load: float
    """Summed over the load-generator processes."""
    load_busiest: float


@dataclass(frozen=True)
class Outcome:
    """What one run measured, built once at its end (or at the moment it failed)."""

    error: str | None = None
    """None when the run completed; otherwise why not (STALLED: deliveries stopped)."""
    answered: bool = True
    """False when the server did not even start or greet a first client."""
    deliveries: int = 0
    expected: int = 0
    seconds: float = 0.0
    latency: Latency | None = None
    """Over every delivery measured (or a uniform sample); None if nothing arrived."""
    crossed_latency: Latency | None = None
    """With several server processes: the deliveries that crossed from the sender's
    process to another (through the broker); the same sample."""
    local_latency: Latency | None = None
    """With several server processes: the deliveries within the sender's process."""
    crossed: int = 0
    """Deliveries that crossed between server processes (all of them, not a sample)."""
    sync_resent: int = 0
    """How often the sync message had to be sent again (several processes only)."""
    max_ms: float | None = None
    cpu: CpuUse | None = None
    """None for a run too short to tell (under MIN_CPU_WALL s)."""

    @property
    def deliveries_per_s(self) -> float | None:
        return self.deliveries / self.seconds if self.seconds > 0 and self.deliveries else None


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
        self.events: dict[str, dict[str, Any]] = {}
        self.frames = 0
        self.ended = False
        self._transports: list[asyncio.BaseTransport] = []
        self._reader: asyncio.Task[None] | None = None

    async def attach(self, news: asyncio.Event) -> None:
        """Start reading events; `news` is set on each (progress aside) and at the end."""
        loop = asyncio.get_running_loop()
        lines = asyncio.StreamReader(limit=1 << 28)  # a report may be a few MB long
        # Not closed here: the pipe transports below own these files and close them.
        events = open(self._event_in, "rb", buffering=0)
        commands = open(self._command_out, "wb", buffering=0)
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
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
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
        ports = server.ports
        problem = asyncio.run(_probe(ports))
        if problem is not None:
            cause = last_error(server.log())
            reason = f"{problem}; the server raised {cause}" if cause else problem
            return Outcome(error=reason, answered=False)
        procs = [LoadProcess(_config(ports, load, i)) for i in range(load.workers)]
        return asyncio.run(_drive(server, load, procs))
    except CouldNotStart as exc:
        return Outcome(error=exc.message, answered=False)
    finally:
        server.stop()
        for proc in procs:
            proc.kill()


class _ProbeClient:
    """One probe connection: what it heard; `news` (shared) is set on each message."""

    def __init__(self, name: str, news: asyncio.Event) -> None:
        self.name = name
        self.news = news
        self.heard: list[bytes] = []
        self.client: Client | None = None

    def on_text(self, _: object, message: bytes) -> None:
        self.heard.append(message)
        self.news.set()

    def about_others(self, message: bytes) -> bool:
        """Whether `message` is about another probe client (a neighbour's join or leave)."""
        return message.startswith(f"Client #{PROBE}".encode()) and not message.startswith(
            f"Client #{self.name} ".encode()
        )

    async def greeting(self, port: int) -> str | None:
        """Connect; why the server does not work, or None: it must greet this client."""
        mine: list[bytes] = []
        try:
            self.client = await connect(HOST, port, f"/ws/{self.name}", self.on_text, STARTUP)
            async with asyncio.timeout(5):
                while not (mine := [m for m in self.heard if not self.about_others(m)]):
                    self.news.clear()
                    await self.news.wait()
        except HandshakeError as exc:
            return str(exc)
        except TimeoutError:
            return "no greeting within 5 s" if self.client else f"no handshake within {STARTUP:g} s"
        except OSError as exc:
            return f"could not connect ({exc.strerror or exc})"
        expected = f"Client #{self.name} joined".encode()
        if mine[0] != expected:
            return f"greeted a newcomer with {mine[0][:60]!r}, not {expected!r}"
        return None

    def has_heard(self, sender: _ProbeClient) -> bool:
        prefix = f"Client #{sender.name}: cross ".encode()
        return any(m.startswith(prefix) for m in self.heard)


async def _probe(ports: list[int]) -> str | None:
    """Why the server does not work, or None: each process must greet a first client, and
    with several processes, a message sent on each must reach a client on the next."""
    many = len(ports) > 1
    news = asyncio.Event()
    probes = [
        _ProbeClient(f"{PROBE}-{loadgen.letter(i)}" if many else PROBE, news)
        for i in range(len(ports))
    ]
    try:
        for i, (probe, port) in enumerate(zip(probes, ports, strict=True)):
            problem = await probe.greeting(port)
            if problem is not None:
                return f"process {loadgen.letter(i).upper()}: {problem}" if many else problem
        return await _crossing(probes, news) if many else None
    finally:
        for probe in probes:
            if probe.client is not None:
                probe.client.close()


async def _crossing(probes: list[_ProbeClient], news: asyncio.Event) -> str | None:
    """None once a message from each probe client reached the next one (on the next server
    process); otherwise which process did not hear the one before it within CROSS_WITHIN s.

    A process hears the others only once it has subscribed to the broker, which it does
    in the background after it started: each probe client not heard yet sends again every
    RESEND s, and the wait ends as soon as every one has been heard.
    """
    count = len(probes)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CROSS_WITHIN
    unheard = set(range(count))  # i: nothing from probe i has reached probe i + 1 yet
    attempt = 0
    while unheard:
        if loop.time() > deadline:
            i = min(unheard)
            sender, receiver = loadgen.letter(i).upper(), loadgen.letter((i + 1) % count).upper()
            return (
                f"no message sent on process {sender} reached process {receiver} within "
                f"{CROSS_WITHIN:g} s (did {receiver} subscribe to the broker at REDIS_URL?)"
            )
        attempt += 1
        for i in unheard:
            client = probes[i].client
            assert client is not None
            client.send_text(b"cross %d" % attempt)
        resend = min(deadline, loop.time() + RESEND)
        while unheard and loop.time() < resend:
            news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(news.wait(), resend - loop.time())
            unheard = {i for i in unheard if not probes[(i + 1) % count].has_heard(probes[i])}
    return None


def _config(ports: list[int], load: Load, index: int) -> loadgen.Config:
    def share(total: int, i: int) -> int:
        return total // load.workers + (i < total % load.workers)

    return loadgen.Config(
        host=HOST,
        ports=tuple(ports),
        prefix=f"w{index}",
        clients=share(load.clients, index),
        # Spread like the clients, so no process gets more senders than clients.
        senders=share(load.senders, index),
        messages=load.messages,
        payload=load.payload,
        expect=load.senders * load.messages,
        offset=sum(share(load.clients, i) for i in range(index)),
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
    workers: list[LoadProcess],
    event: str,
    load: Load,
    news: asyncio.Event,
    errors: bool = True,
    again: Callable[[], None] | None = None,
) -> str | None:
    """Wait until every worker reported `event`; None, or why that did not happen.

    An error a worker reported ends the wait, unless `errors` is False. `again`, if
    given, is called after each RESYNC s of waiting, up to SYNC_TRIES - 1 times.
    """
    started = last_change = last_try = time.monotonic()
    last_frames = -1
    tries = 1
    while not all(event in w.events for w in workers):
        if again is not None and tries < SYNC_TRIES and time.monotonic() - last_try > RESYNC:
            again()
            tries += 1
            last_try = time.monotonic()
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
    resent = 0

    def sync_again() -> None:
        nonlocal resent
        resent += 1
        workers[0].tell("sync")

    if problem is None:
        workers[0].tell("sync")
        again = sync_again if len(server.pids) > 1 else None
        problem = await _until(workers, "synced", load, news, again=again)
    if problem == STALLED:
        problem = f"no frame arrived for {load.stall_after:g} s"
    if problem is not None:
        return Outcome(error=f"{problem}, before the measurement began", sync_resent=resent)
    cpu = Cpu.start(server, workers)
    go_ns = time.monotonic_ns()
    for worker in workers:
        worker.tell("go")
    problem = await _until(workers, "done", load, news)
    wall = (time.monotonic_ns() - go_ns) / 1e9
    if problem not in (None, STALLED):
        problem = f"{problem}, during the measurement"
    # CPU time comes in 10 ms ticks: a shorter run can't tell.
    used = cpu.used(server, workers, wall) if wall >= MIN_CPU_WALL else None
    for worker in workers:
        worker.events.pop("report", None)
        worker.tell("report")
    patient = dataclasses.replace(load, stall_after=10.0)
    if await _until(workers, "report", patient, news, errors=False):
        error = problem or "the load generator did not report"
        return Outcome(error=error, expected=expected, sync_resent=resent, cpu=used)
    reports = [w.events["report"] for w in workers]
    last_ns = max(r["last_ns"] for r in reports)
    local = [ns / 1e6 for r in reports for ns in r["latencies_ns"]]
    crossed = [ns / 1e6 for r in reports for ns in r["crossed_ns"]]
    several = len(server.pids) > 1
    return Outcome(
        error=problem,
        expected=expected,
        sync_resent=resent,
        deliveries=sum(r["deliveries"] for r in reports),
        seconds=(last_ns - go_ns) / 1e9 if last_ns else wall,
        latency=Latency.of(local + crossed),
        local_latency=Latency.of(local) if several else None,
        crossed_latency=Latency.of(crossed) if several else None,
        crossed=sum(r["crossed"] for r in reports),
        max_ms=max(r["max_ns"] for r in reports) / 1e6 if last_ns else None,
        cpu=used,
    )


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used so far by the server, its broker and the load, at the start."""

    server: list[float]
    broker: float | None
    load: list[float]

    @classmethod
    def start(cls, server: BenchServer, workers: list[LoadProcess]) -> Cpu:
        broker = _cpu(server.broker_pid) if server.broker_pid else None
        return cls([_cpu(pid) for pid in server.pids], broker, [w.cpu_seconds() for w in workers])

    def used(self, server: BenchServer, workers: list[LoadProcess], wall: float) -> CpuUse:
        """% of one core each used since the start, over `wall` s."""
        spent = [_cpu(pid) - cpu for pid, cpu in zip(server.pids, self.server, strict=True)]
        load = [w.cpu_seconds() - cpu for w, cpu in zip(workers, self.load, strict=True)]
        broker = None
        if self.broker is not None:
            broker = 100 * (_cpu(server.broker_pid) - self.broker) / wall
        return CpuUse(
            server=100 * sum(spent) / wall,
            server_busiest=100 * max(spent) / wall,
            broker=broker,
            load=100 * sum(load) / wall,
            load_busiest=100 * max(load) / wall,
        )


def _cpu(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system
