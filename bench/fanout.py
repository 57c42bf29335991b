"""Fan-out benchmark: how fast does a chat server deliver one message to N clients?

Up to four servers get the same load in the same run, taking turns for each N:

    student     the submission, if --submission names one
    reference   solutions/<file>, the kit's reference solution for the exercise
    naive       solutions/broadcast.py, the lesson's ConnectionManager: one
                `await send_text` after another, in a for loop
    anchor      bench/anchor.py: the same protocol on the bare `websockets` library with
                `websockets.broadcast()`, about as fast as Python gets

A file is measured once, whatever roles it has: for exercise broadcast the reference is
the naive manager, and a submission that is the reference is not measured again.

Every measurement is made --repeat times (3), round after round, the servers taking
turns within each round, and every figure is shown as the median of its runs and its
noise, ±: half the range of the runs, as % of the median. Two figures closer than their
noise added up are not told apart by the run.

The load: N clients on `/ws/{client_id}`, spread over separate load-generator processes
(bench/loadgen.py, lean raw-asyncio clients: see bench/wsclient.py) so that the load is
cheaper than the server. After every client joined and a "sync" message reached them
all, S senders (4) each send M chat messages in a closed loop (the next one when their
own copy comes back); unless --messages says otherwise, M gives each run about 40,000
deliveries (1000 messages at N=10, 20 at N=500). Each message carries its send time;
every receiver records send->receipt latency. Each run gets a fresh server and fresh clients.

How to read it:

    deliveries/s   messages received per second, summed over all clients (S*M*N in all)
    x anchor       deliveries/s as a fraction of the anchor's at the same N, taken run by
                   run (the runs of one round are next to each other in time)
    p50/p99/max    send->receipt latency in ms over every delivery: p99 is the wait of
                   the unluckiest 1 %. A message also waits behind the other senders'
                   messages in flight, and in a sequential loop its last recipient waits
                   for N sends: latency grows with N for every server
    server CPU     % of one core; ~100 % means the (single-threaded) server is the limit
    load CPU       % of one core, summed over the load processes (the busiest one in
                   brackets). The load is the limit instead when it uses what the server
                   leaves of the machine (server + load CPU near cores x 100 %) while the
                   server stays well below 100 %: then the ratio to the anchor, which
                   needs the least server CPU, understates the anchor's lead.

Then the slow-client scenario: N = the middle --clients value, 64 KiB messages (enough of
them to fill a socket's buffers), once as is and once with one more client that completes
the handshake and never reads again. A server that awaits each send in turn fills that
client's socket buffers, then waits for it forever: when deliveries stop for
--stall-after seconds (5) the run is "stalled". The table gives the other clients' p99
latency with and without that client.

Exercise scaleout (`--exercise scaleout`) is one chat across processes joined by Redis
pub/sub. Its student and reference rows above are then one process of the app, with a
private redis-server of its own (the app publishes every message and skips its own
echo, as it would beside other processes), and a cross-process section follows: the
same load against TWO processes of the app sharing one private redis-server, the N
clients and the senders dealt out half and half over the two ports. Before the load
connects, a probe client on each process must hear a message sent on the other (a
process hears the others only once it has subscribed to Redis; the probe is re-sent,
for at most 10 s). A delivery from a sender on the other process "crossed" (app A ->
Redis -> app B -> client); the rest stayed within the sender's process. The section's
second table is the latency Redis adds, for each N:

    vs 1 process   2 processes against the same file as 1 process with its own Redis
                   (the single-process reference, for the reference row): the same
                   code, publishing every message to Redis in both runs, so the
                   difference is the hop through Redis to another process, less what
                   the second process saves by sending to half the clients each. This
                   is the fair baseline: the same code under the same load.
    vs broadcast   against solutions/broadcast.py, the same chat without any Redis:
                   the whole price of the design, publishing every message included.
    local          within the 2-process run itself, the p50/p99 of the deliveries that
                   crossed minus those of the deliveries that did not: the same load
                   and moment, so no run-to-run noise.

In the 2-process runs a sender's closed loop waits until its message has reached a
client on each process (its own copy, and the copy on the other process), so at most
one message per sender is in flight, as with one process.

+p50 and +p99 are differences in ms (2 processes minus the baseline); "x" is the ratio
of deliveries/s. --cross-clients sets the cross-process N: by default --clients, or
10,100 when --clients is not given either (the two 2-process runs at N=500 would cost
another 10-20 s of a run that should stay under two minutes on 2 cores).

    .venv/bin/python -m bench.fanout [--exercise broadcast] [--submission starter/]
        [--clients 10,100,500] [--messages M] [--repeat 3] [--json FILE]
        [--plot bench/fanout.png] [--cross-clients 10,100]
        [--quick]   (--quick: N=5,20, M=5, one run each, a few seconds)
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bench import report
from bench.measure import Load, Outcome, measure
from bench.results import CrossProcess, Measured, Results, Settings
from bench.servers import AnchorServer, AsgiServer, BenchServer, BrokeredServer
from grader.errors import UsageError
from grader.manifest import Kit
from grader.submission import resolve

ROOT = Path(__file__).resolve().parent.parent

ENDPOINT = "/ws/{client_id}"
CHAT_PAYLOAD = 64  # bytes of chat text per message in the fan-out runs
SLOW_PAYLOAD = 64 << 10  # bytes per message in the slow-client scenario
DELIVERIES = 40_000  # per run, when --messages is not given
MESSAGES = (20, 1000)  # the bounds of M when it is derived from DELIVERIES
DEFAULTS: dict[str, Any] = {"clients": "10,100,500", "stall_after": 5.0, "repeat": 3}
CROSS_DEFAULT = "10,100"  # the cross-process N when neither --clients nor --cross-clients
BROKERS = {"redis"}  # the services the benchmark can start beside an app
ORDER = ("student", "reference", "naive", "anchor")  # the rows of the tables
QUICK: dict[str, Any] = {"clients": "5,20", "messages": 5, "stall_after": 2.0, "repeat": 1}


@dataclass(frozen=True)
class Contender:
    name: str
    label: str
    make: Callable[[], BenchServer]
    processes: int = 1


@dataclass(frozen=True)
class Lineup:
    exercise: str
    servers: list[Contender]
    """The single-process servers: student, reference, naive, anchor; one per file."""
    aliases: dict[str, str]
    """A role left out because another server runs its file -> that server's name."""
    cross: list[Contender] = dataclasses.field(default_factory=list)
    """For an exercise that scales out: student and reference as several processes."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fanout", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--exercise", "-e", default="broadcast")
    parser.add_argument("--submission", type=Path, help="a .py file or a folder like starter/")
    parser.add_argument("--clients", help="comma-separated N values (default 10,100,500)")
    parser.add_argument(
        "--messages", type=int, help="messages per sender (default: ~100,000 deliveries a run)"
    )
    parser.add_argument("--senders", type=int, default=4, help="senders per run (default 4)")
    parser.add_argument(
        "--repeat", type=int, help="runs of each measurement, to show its noise (default 3)"
    )
    parser.add_argument("--stall-after", type=float, help="seconds without delivery (5)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--plot", type=Path, default=ROOT / "bench" / "fanout.png")
    parser.add_argument(
        "--cross-clients",
        help="N values of the cross-process section (exercise scaleout; default: --clients, "
        f"or {CROSS_DEFAULT} when --clients is not given)",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run of a few seconds")
    args = parser.parse_args(argv)
    if args.cross_clients is None and args.clients is None and not args.quick:
        args.cross_clients = CROSS_DEFAULT
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.clients = _numbers("--clients", args.clients)
    cross = args.cross_clients
    args.cross_clients = _numbers("--cross-clients", cross) if cross else list(args.clients)
    if (
        min(args.clients + args.cross_clients, default=0) < 1
        or min(args.messages or 1, args.senders, args.repeat) < 1
    ):
        raise UsageError("--clients, --messages, --senders and --repeat must be at least 1")
    if set(args.cross_clients) - set(args.clients):
        raise UsageError(
            "--cross-clients must be among --clients: the single-process runs at the same N "
            "are the baselines of the cross-process ones"
        )
    return args


def _numbers(option: str, text: str) -> list[int]:
    try:
        numbers = sorted({int(n) for n in str(text).split(",") if n.strip()})
    except ValueError:
        raise UsageError(f"{option} takes numbers like 10,100,500, not {text!r}") from None
    if not numbers:
        raise UsageError(f"{option} takes numbers like 10,100,500")
    return numbers


def contenders(args: argparse.Namespace, scratch: Path) -> Lineup:
    """The exercise's servers; UsageError for what the benchmark can't run."""
    kit = Kit.load(ROOT)
    exercise = kit.get(args.exercise)
    if exercise.endpoint != ENDPOINT:
        raise UsageError(
            f"exercise {exercise.id!r} serves {exercise.endpoint}; the fan-out benchmark "
            f"measures {ENDPOINT} (exercises broadcast, direct, resilient, scaleout)"
        )
    services = set(getattr(exercise, "services", ()))
    if services - BROKERS:
        raise UsageError(
            f"exercise {exercise.id!r} needs {', '.join(sorted(services - BROKERS))} beside the "
            "app, which the fan-out benchmark cannot start (exercises broadcast, direct, "
            "resilient, scaleout)"
        )
    if services and shutil.which("redis-server") is None:
        raise UsageError(
            f"exercise {exercise.id!r} needs a redis-server, which is not installed: "
            "`make setup` installs it on Debian/Ubuntu (as root), or run "
            "`sudo apt-get install redis-server` / `brew install redis`"
        )
    solution, naive = kit.solution(exercise), ROOT / "solutions" / "broadcast.py"
    student: Path | None = None
    if args.submission:  # without one, the reference is what is measured
        [(_, found)] = resolve(kit, exercise.id, args.submission.resolve())
        student = found.path
    module = exercise.module

    def app(file: Path, processes: int = 1) -> Callable[[], BenchServer]:
        if services:
            return lambda: BrokeredServer(file, module, scratch, processes)
        return lambda: AsgiServer(file, module, scratch)

    one = " (1 process + its own Redis)" if services else ""
    # In this order, so that a file with two roles is measured as the reference.
    roles: list[tuple[Contender, Path | None]] = [
        (Contender("reference", _shown(solution) + one, app(solution)), solution)
    ]
    if student is not None:
        roles.append((Contender("student", _shown(student) + one, app(student)), student))
    naive_label = f"{_shown(naive)} (the lesson's manager{', no Redis' if services else ''})"
    naive_server = Contender("naive", naive_label, lambda: AsgiServer(naive, "broadcast", scratch))
    roles.append((naive_server, None if services else naive))  # without Redis, it differs
    roles.append((Contender("anchor", "bench/anchor.py", lambda: AnchorServer(scratch)), None))
    servers: list[Contender] = []
    aliases: dict[str, str] = {}
    measured: dict[Path, str] = {}  # file -> the role it is measured as
    for contender, file in roles:
        if file is not None and file.resolve() in measured:
            aliases[contender.name] = measured[file.resolve()]
            continue
        if file is not None:
            measured[file.resolve()] = contender.name
        servers.append(contender)
    servers.sort(key=lambda c: ORDER.index(c.name))
    cross = []
    if services:  # it scales out: measure it as several processes too
        p = max(2, exercise.processes)
        for c in servers:
            file = {"reference": solution, "student": student}.get(c.name)
            if file is not None:
                label = f"{_shown(file)} ({p} processes + one Redis)"
                cross.append(Contender(c.name, label, app(file, p), processes=p))
    return Lineup(exercise.id, servers, aliases, cross)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def slow_messages(args: argparse.Namespace, clients: int) -> int:
    """Messages per sender in the slow-client scenario: --messages, or more if that is too
    few to fill the never-reading client's socket buffers (the kernel's largest TCP send
    buffer, 4 MiB on most Linux machines, plus 2 MiB for the rest on the way)."""
    try:
        send_buffer = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, ValueError, IndexError):
        send_buffer = 4 << 20
    per_message = min(int(args.senders), clients) * SLOW_PAYLOAD
    floor = int(args.messages or MESSAGES[0])
    return max(floor, -(-(send_buffer + (2 << 20)) // per_message))


def messages_for(args: argparse.Namespace, clients: int) -> int:
    """M, messages per sender: --messages, or enough for about DELIVERIES deliveries."""
    if args.messages:
        return int(args.messages)
    low, high = MESSAGES
    senders = min(int(args.senders), clients)
    return max(low, min(high, round(DELIVERIES / (senders * clients))))


def load_for(args: argparse.Namespace, clients: int, processes: int = 1, **changes: Any) -> Load:
    """The load for N clients: a load process per core, but against P server processes,
    at least P clients in each (one on every server process, to see what crossed)."""
    load = Load(
        clients=clients,
        senders=min(args.senders, clients),
        messages=messages_for(args, clients),
        payload=CHAT_PAYLOAD,
        stall_after=args.stall_after,
        workers=max(1, min(clients // processes, os.cpu_count() or 1)),
    )
    return dataclasses.replace(load, **changes)


def cross_clients(args: argparse.Namespace, lineup: Lineup) -> list[int]:
    """The N of the cross-process section: at least one client per server process."""
    if not lineup.cross:
        return []
    processes = lineup.cross[0].processes
    return [n for n in args.cross_clients if n >= processes]


@dataclass(frozen=True)
class Runs:
    """Every measurement of a benchmark run, by server name and N."""

    fanout: dict[str, dict[int, Measured]]
    slow: dict[str, tuple[Measured, Measured]]
    cross: dict[str, dict[int, Measured]]


def _key(server: Contender) -> str:
    return server.name if server.processes == 1 else f"{server.name} x{server.processes}"


def _load_of(args: argparse.Namespace, n: int, server: Contender) -> Load:
    return load_for(args, n, server.processes)


def run_all(args: argparse.Namespace, lineup: Lineup, console: Console) -> Runs:
    """Every measurement, --repeat times: in each round the servers take turns, the one to
    go first rotating, so that a machine growing busier slows them all alike."""
    broken: dict[str, Outcome] = {}  # servers that did not even start or answer: not retried

    def run(server: Contender, load: Load, what: str) -> Outcome:
        key = _key(server)
        if key in broken:
            return broken[key]
        started = time.monotonic()
        outcome = measure(server.make, load)
        if not outcome.answered:
            broken[key] = outcome
        took = time.monotonic() - started
        line = f"{key:<13} {what:<30} {report.summary(outcome)} ({took:.1f} s)"
        console.print(f"  {escape(line)}", highlight=False)
        return outcome

    def rounds(
        servers: list[Contender], load_of: Callable[[Contender], Load], what: str
    ) -> dict[str, Measured]:
        outcomes: dict[str, list[Outcome]] = {_key(s): [] for s in servers}
        for r in range(args.repeat):
            shift = r % len(servers)
            tag = f", run {r + 1}/{args.repeat}" if args.repeat > 1 else ""
            for server in servers[shift:] + servers[:shift]:
                outcomes[_key(server)].append(run(server, load_of(server), what + tag))
        return {_key(s): Measured(tuple(outcomes[_key(s)]), processes=s.processes) for s in servers}

    fanout: dict[str, dict[int, Measured]] = {s.name: {} for s in lineup.servers}
    cross: dict[str, dict[int, Measured]] = {s.name: {} for s in lineup.cross}
    cross_n = cross_clients(args, lineup)
    # N by N, the cross-process runs take turns with the single-process ones they are
    # compared with: the machine is in the same state for both.
    for n in args.clients:
        servers = lineup.servers + (lineup.cross if n in cross_n else [])
        measured = rounds(servers, functools.partial(_load_of, args, n), f"N={n}")
        for server in servers:
            (fanout if server.processes == 1 else cross)[server.name][n] = measured[_key(server)]
    n = args.clients[len(args.clients) // 2]
    big = {"payload": SLOW_PAYLOAD, "messages": slow_messages(args, n)}
    slow: dict[str, tuple[list[Outcome], list[Outcome]]] = {
        s.name: ([], []) for s in lineup.servers
    }
    for r in range(args.repeat):
        tag = f", run {r + 1}/{args.repeat}" if args.repeat > 1 else ""
        shift = r % len(lineup.servers)
        for server in lineup.servers[shift:] + lineup.servers[:shift]:
            without, stalled = slow[server.name]
            without.append(run(server, load_for(args, n, **big), f"N={n}, slow-client base{tag}"))
            if any(o.error for o in stalled):
                continue  # it stalled: that is the verdict, and another try costs stall_after
            load = load_for(args, n, stalled_client=True, **big)
            stalled.append(run(server, load, f"N={n}, + never-reading{tag}"))
    return Runs(
        fanout,
        {name: (Measured(tuple(a)), Measured(tuple(b))) for name, (a, b) in slow.items()},
        cross,
    )


def _per_n(args: argparse.Namespace, clients: list[int]) -> str:
    return "/".join(str(messages_for(args, n)) for n in clients)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that every finally block kills what it started


def main(argv: list[str] | None = None) -> int:
    console = Console() if sys.stdout.isatty() else Console(width=120)
    started = time.monotonic()
    load_average = os.getloadavg()[0]
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        args = parse_args(argv)
        with tempfile.TemporaryDirectory(prefix="fanout-") as scratch:
            lineup = contenders(args, Path(scratch))
            subject = "" if args.submission else " (no --submission: the reference solution)"
            console.print(
                f"[bold]Fan-out benchmark[/], exercise {lineup.exercise}{subject}: "
                f"N = {args.clients}, {args.senders} senders (at most N), "
                f"M = {_per_n(args, args.clients)} messages each, {args.repeat} run(s) of each"
            )
            if lineup.cross:
                n = cross_clients(args, lineup)
                console.print(
                    f"Cross-process: {lineup.cross[0].processes} processes of the app sharing "
                    f"one private redis-server, N = {n}, M = {_per_n(args, n)}"
                )
            runs = run_all(args, lineup, console)
    except UsageError as exc:
        print(f"fanout: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fanout: interrupted", file=sys.stderr)
        return 130
    results = build(args, lineup, runs, time.monotonic() - started, load_average)
    report.print_tables(results, console)
    if args.json:
        report.write_json(results, args.json)
        console.print(f"Figures written to {args.json}")
    report.plot(results, args.plot)
    console.print(f"Plot written to {args.plot}  (whole run: {results.runtime_s:.0f} s)")
    return 0


def build(
    args: argparse.Namespace, lineup: Lineup, runs: Runs, runtime_s: float, load_average: float
) -> Results:
    """The results of a finished run, in one piece."""
    slow_n = args.clients[len(args.clients) // 2]
    cross = None
    if lineup.cross:
        n = cross_clients(args, lineup)
        cross = CrossProcess(
            processes=lineup.cross[0].processes,
            clients=n,
            requested=args.cross_clients,
            labels={c.name: c.label for c in lineup.cross},
            runs=runs.cross,
            messages_per_sender={k: messages_for(args, k) for k in n},
        )
    return Results(
        exercise=lineup.exercise,
        clients=args.clients,
        slow_clients=slow_n,
        settings=Settings(
            senders=args.senders,
            messages_per_sender={n: messages_for(args, n) for n in args.clients},
            payload_bytes=CHAT_PAYLOAD,
            slow_payload_bytes=SLOW_PAYLOAD,
            slow_messages=slow_messages(args, slow_n),
            stall_after_s=args.stall_after,
            repeat=args.repeat,
        ),
        labels={s.name: s.label for s in lineup.servers},
        aliases=lineup.aliases,
        fanout=runs.fanout,
        slow=runs.slow,
        cross=cross,
        runtime_s=runtime_s,
        load_average=load_average,
    )


if __name__ == "__main__":
    sys.exit(main())
