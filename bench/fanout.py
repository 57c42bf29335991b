"""Fan-out benchmark: how fast does a chat server deliver one message to N clients?

Four servers get the same load in the same run, one after the other for each N:

    student     the submission (default: starter/<file> of the exercise)
    reference   solutions/<file>, the kit's reference solution for the exercise
    naive       solutions/broadcast.py, the lesson's ConnectionManager: one
                `await send_text` after another, in a for loop
    anchor      bench/anchor.py: the same protocol on the bare `websockets` library with
                `websockets.broadcast()`, about as fast as Python gets

The load: N clients on `/ws/{client_id}`, spread over separate load-generator processes
(bench/loadgen.py, lean raw-asyncio clients) so that the load is cheaper than the server.
After every client joined and a "sync" message reached them all, S senders (4) each send
M chat messages in a closed loop (the next one when their own copy comes back); unless
--messages says otherwise, M gives each run about 100,000 deliveries (1000 messages at
N=10, 50 at N=500). Each message carries its send time; every receiver records
send->receipt latency. Each run gets a fresh server and fresh clients.

How to read it:

    deliveries/s   messages received per second, summed over all clients (S*M*N in all)
    x anchor       deliveries/s as a fraction of the anchor's at the same N
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

    .venv/bin/python bench/fanout.py [--exercise broadcast] [--submission starter/]
        [--clients 10,100,500] [--messages M] [--json FILE] [--plot bench/fanout.png]
        [--cross-clients 10,100] [--quick]   (--quick: N=5,20, M=5, a few seconds)
"""

from __future__ import annotations

import argparse
import dataclasses
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this kit's grader and bench, whatever else is installed

from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402

from bench import report  # noqa: E402
from bench.measure import Load, Outcome, measure  # noqa: E402
from bench.servers import AnchorServer, AsgiServer, BenchServer, BrokeredServer  # noqa: E402
from grader.errors import UsageError  # noqa: E402
from grader.manifest import Kit  # noqa: E402
from grader.submission import resolve  # noqa: E402

ENDPOINT = "/ws/{client_id}"
CHAT_PAYLOAD = 64  # bytes of chat text per message in the fan-out runs
SLOW_PAYLOAD = 64 << 10  # bytes per message in the slow-client scenario
DELIVERIES = 100_000  # per run, when --messages is not given
MESSAGES = (20, 1000)  # the bounds of M when it is derived from DELIVERIES
DEFAULTS = {"clients": "10,100,500", "stall_after": 5.0}
CROSS_DEFAULT = "10,100"  # the cross-process N when neither --clients nor --cross-clients
BROKERS = {"redis"}  # the services the benchmark can start beside an app
QUICK = {"clients": "5,20", "messages": 5, "stall_after": 2.0}


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
    """The single-process servers: student, reference, naive, anchor."""
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
    if min(args.clients + args.cross_clients) < 1 or (args.messages or 1) < 1 or args.senders < 1:
        raise UsageError("--clients, --messages and --senders must be at least 1")
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
    submission = args.submission.resolve() if args.submission else None
    [(_, found)] = resolve(kit, exercise.id, submission)
    student = found.path
    solution, naive = kit.solution(exercise), ROOT / "solutions" / "broadcast.py"
    module = exercise.module

    def app(file: Path, processes: int = 1) -> Callable[[], BenchServer]:
        if services:
            return lambda: BrokeredServer(file, module, scratch, processes)
        return lambda: AsgiServer(file, module, scratch)

    one = " (1 process + its own Redis)" if services else ""
    servers = [
        Contender("student", _shown(student) + one, app(student)),
        Contender("reference", _shown(solution) + one, app(solution)),
        Contender(
            "naive",
            f"{_shown(naive)} (the lesson's manager{', no Redis' if services else ''})",
            lambda: AsgiServer(naive, "broadcast", scratch),
        ),
        Contender("anchor", "bench/anchor.py", lambda: AnchorServer(scratch)),
    ]
    cross = []
    if services:  # it scales out: measure it as several processes too
        p = max(2, exercise.processes)
        for name, file in (("reference", solution), ("student", student)):
            label = f"{_shown(file)} ({p} processes + one Redis)"
            cross.append(Contender(name, label, app(file, p), processes=p))
    return Lineup(exercise.id, servers, cross)


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
    per_message = min(args.senders, clients) * SLOW_PAYLOAD
    return max(args.messages or MESSAGES[0], -(-(send_buffer + (2 << 20)) // per_message))


def messages_for(args: argparse.Namespace, clients: int) -> int:
    """M, messages per sender: --messages, or enough for about DELIVERIES deliveries."""
    if args.messages:
        return int(args.messages)
    low, high = MESSAGES
    return max(low, min(high, round(DELIVERIES / (min(args.senders, clients) * clients))))


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


def run_all(args: argparse.Namespace, lineup: Lineup, console: Console) -> report.Results:
    results = report.Results(
        clients=args.clients, slow_clients=args.clients[len(args.clients) // 2]
    )
    broken: dict[str, str] = {}  # servers that did not even start or answer: not retried

    def run(server: Contender, load: Load, what: str) -> Outcome:
        key = f"{server.name} x{server.processes}"
        if key in broken:
            return Outcome(error=broken[key], answered=False, processes=server.processes)
        started = time.monotonic()
        outcome = measure(server.make, load)
        outcome.processes = server.processes
        if not outcome.answered:
            broken[key] = outcome.error or "did not answer"
        took = time.monotonic() - started
        name = server.name if server.processes == 1 else f"{server.name} x{server.processes}"
        line = f"{name:<13} {what:<24} {report.summary(outcome)} ({took:.1f} s)"
        console.print(f"  {escape(line)}", highlight=False)
        return outcome

    cross_n = cross_clients(args, lineup)
    if lineup.cross:
        results.cross = report.CrossProcess(
            processes=lineup.cross[0].processes,
            clients=cross_n,
            labels={c.name: c.label for c in lineup.cross},
            requested=args.cross_clients,
        )
    # N by N, the cross-process runs right after the single-process ones they are
    # compared with: the machine is in the same state for both.
    for n in args.clients:
        for server in lineup.servers:
            outcome = run(server, load_for(args, n), f"N={n}")
            results.fanout.setdefault(server.name, {})[n] = outcome
        if n in cross_n and results.cross is not None:
            for server in lineup.cross:
                load = load_for(args, n, server.processes)
                outcome = run(server, load, f"N={n}, {server.processes} processes")
                results.cross.runs.setdefault(server.name, {})[n] = outcome
    n = results.slow_clients
    big = {"payload": SLOW_PAYLOAD, "messages": slow_messages(args, n)}
    for server in lineup.servers:
        without = run(server, load_for(args, n, **big), f"N={n}, slow-client base")
        stalled = load_for(args, n, stalled_client=True, **big)
        results.slow[server.name] = (without, run(server, stalled, f"N={n}, + never-reading"))
    return results


def _per_n(args: argparse.Namespace, clients: list[int]) -> str:
    return "/".join(str(messages_for(args, n)) for n in clients)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that every finally block kills what it started


def main(argv: list[str] | None = None) -> int:
    console = Console() if sys.stdout.isatty() else Console(width=120)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        args = parse_args(argv)
        with tempfile.TemporaryDirectory(prefix="fanout-") as scratch:
            lineup = contenders(args, Path(scratch))
            console.print(
                f"[bold]Fan-out benchmark[/], exercise {lineup.exercise}: N = {args.clients}, "
                f"{args.senders} senders (at most N), M = {_per_n(args, args.clients)} "
                "messages each"
            )
            if lineup.cross:
                n = cross_clients(args, lineup)
                console.print(
                    f"Cross-process: {lineup.cross[0].processes} processes of the app sharing "
                    f"one private redis-server, N = {n}, M = {_per_n(args, n)}"
                )
            results = run_all(args, lineup, console)
    except UsageError as exc:
        print(f"fanout: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fanout: interrupted", file=sys.stderr)
        return 130
    results.exercise = lineup.exercise
    results.labels = {s.name: s.label for s in lineup.servers}
    results.settings = {
        "senders": args.senders,
        "messages_per_sender": {str(n): messages_for(args, n) for n in args.clients},
        "payload_bytes": CHAT_PAYLOAD,
        "slow_payload_bytes": SLOW_PAYLOAD,
        "slow_messages": slow_messages(args, results.slow_clients),
        "stall_after_s": args.stall_after,
    }
    if results.cross is not None:
        results.settings["cross_messages_per_sender"] = {
            str(n): messages_for(args, n) for n in results.cross.clients
        }
    results.runtime_s = time.monotonic() - started
    report.print_tables(results, console)
    if args.json:
        report.write_json(results, args.json)
        console.print(f"Figures written to {args.json}")
    report.plot(results, args.plot)
    console.print(f"Plot written to {args.plot}  (whole run: {results.runtime_s:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
