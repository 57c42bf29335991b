"""Exercise 6 — scaleout: one chat across two processes of the app, joined by Redis.

Each check gets a private redis-server and fresh copies of the app (processes A and B)
given its address in REDIS_URL. Before a message has to cross, a check waits (bounded)
until Redis itself reports that the receiving process holds a subscription: a message
published earlier would be lost to a process not yet subscribed, and that is
at-most-once delivery working as designed, not a bug. For the same reason the first
client on B may or may not hear about the client that joined A just before it (see
`pair`). Silence is proven with markers that travel the same way as the message they
follow: a later message arriving next shows that nothing was sent in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import string
from collections.abc import Callable

import psutil
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from checks._chat import Chat, RedisServer
from grader import (
    Client,
    Failure,
    Launcher,
    LiveServer,
    Mismatch,
    Submission,
    check,
    free_port,
    scaled,
)

# The contract's bounds in seconds, stretched with scaled() on a slow machine like
# every other wait.
READY_WITHIN = 5.0  # from start to holding a subscription
RESUME_WITHIN = 5.0  # from Redis being back to crossing again
EXIT_WITHIN = 5.0  # from SIGTERM to the process having exited
PROBE_EVERY = 0.25
HOLD_FOR = 30.0  # how long Redis holds publications at most: longer than any check
ATTEMPTS = 6  # reconnection attempts watched during an outage
ATTEMPTS_WITHIN = 4.0  # ... for at most this long (6 attempts 0.5 s apart take 3 s)

JOIN_HELP = (
    "Everyone on every process, the newcomer included, receives 'joined' exactly once: "
    "deliver it to this process's clients, publish it for the other processes, and let "
    "the subscriber skip this process's own publications when they come back."
)
CROSS_HELP = (
    "broadcast() must deliver to this process's clients and publish to Redis; the "
    "subscriber of every other process receives the publication and delivers it to its "
    "own clients."
)
ONCE_HELP = (
    "A process receives its own publications back from Redis too. Tag each one with this "
    "process's random id (origin) and let the subscriber skip those: they were already "
    "delivered locally."
)
SAME_PROCESS_HELP = (
    "Deliver each event to this process's clients once, directly; publish it too, but "
    "the subscriber must skip it when Redis sends it back (its origin is this process)."
)
LOCAL_HELP = (
    "Deliver to this process's clients directly, before publishing, and catch "
    "redis.RedisError around publish(): local clients must never depend on Redis."
)

SLOW_HELP = (
    "Deliver to this process's clients first, then publish, and never make local delivery "
    "wait for Redis. Await every Redis call of a `redis.asyncio` client: while one waits "
    "for Redis, the event loop serves the others. A synchronous `redis.Redis` stops the "
    "whole process until Redis answers."
)
WARN_ONCE_HELP = (
    "In the retry loop, warn when the outage starts, not on every attempt: set a flag "
    "(`lost = True`) when subscribing fails, clear it once subscribed again, and log the "
    "warning only when the flag was not set yet."
)

chat = Chat(
    path="/ws/{id}",
    joined="Client #{id} joined",
    said="Client #{id}: {text}",
    join_help=JOIN_HELP,
    say_help=CROSS_HELP,
)


def redis_env(redis_server: RedisServer) -> dict[str, str]:
    return {"REDIS_URL": redis_server.url}


async def subscribed_ports(redis_server: RedisServer) -> set[int]:
    """The client-side ports of the connections that hold a subscription on the test Redis.

    Read from CLIENT LIST, not PUBSUB NUMSUB: the channel's name is the student's choice,
    and so is subscribing to a pattern instead of a channel.
    """
    client = aioredis.from_url(redis_server.url)
    try:
        found = await client.client_list()
    except (RedisError, OSError):
        return set()
    finally:
        await client.aclose()
    kinds = ("sub", "psub", "ssub")
    return {
        int(entry["addr"].rsplit(":", 1)[1])
        for entry in found
        if any(int(entry.get(k) or 0) for k in kinds)
    }


def holds_subscription(server: LiveServer, ports: set[int], redis_port: int) -> bool | None:
    """Whether one of `server`'s own connections to Redis is subscribed; None if unknown.

    Matching connections to processes, rather than counting them, stays right when a
    process subscribes on two connections, or has not subscribed yet while another has.
    """
    try:
        connections = psutil.Process(server.pid).net_connections(kind="tcp")
    except psutil.Error:
        return None
    return any(
        c.raddr and c.raddr.port == redis_port and c.laddr.port in ports for c in connections
    )


async def until_subscribed(
    redis_server: RedisServer, *servers: LiveServer, since: str = "starting"
) -> None:
    """Wait (bounded) until every one of `servers` holds a subscription on the test Redis.

    Never assume a fixed delay: a message published before a process has subscribed is
    lost to it, so a cross-process exchange starts only once Redis confirms it.
    """
    loop = asyncio.get_running_loop()
    within = scaled(READY_WITHIN)
    deadline = loop.time() + within
    while True:
        ports = await subscribed_ports(redis_server)
        held = [holds_subscription(server, ports, redis_server.port) for server in servers]
        if None in held:  # processes hidden from us: count the subscribed connections
            held = [len(ports) >= len(servers)] * len(servers)
        if all(held):
            return
        for server in servers:
            died = server.exit_reason()
            if died:
                raise Failure(
                    f"server {server.label} {died} instead of starting",
                    help="The lifespan's startup must not fail: see the server's output below.",
                )
        if loop.time() > deadline:
            late = [s for s, h in zip(servers, held, strict=True) if not h]
            who = " and ".join(f"server {s.label}" for s in late)
            raise Failure(
                f"{who} should have subscribed to a channel on the Redis server at REDIS_URL "
                f"within {within:g} s of {since}",
                help="Read the address with os.environ.get('REDIS_URL', "
                "'redis://localhost:6379/0') (the checks' Redis is on another port), and "
                "start the subscriber in the app's lifespan, before the first client comes.",
            )
        await asyncio.sleep(0.02)


async def two_processes(
    launch: Launcher, redis_server: RedisServer
) -> tuple[LiveServer, LiveServer]:
    """Processes A and B of the app, sharing the test Redis."""
    a = launch(env=redis_env(redis_server), label="A")
    b = launch(env=redis_env(redis_server), label="B")
    a.transcript.append(f"servers A and B started with REDIS_URL={redis_server.url}")
    return a, b


async def pair(a: LiveServer, b: LiveServer, redis_server: RedisServer) -> tuple[Client, Client]:
    """alice on A and bob on B, each having heard the other arrive and alice's first word.

    A process subscribes on startup or, like encode/broadcaster, when its first client
    comes: each exchange waits until Redis confirms the subscription it relies on.
    alice's "joined" is published just after it is delivered to her, so it may still be
    on its way when bob connects: bob may hear it or not (either is right). alice's first
    message is published after it (one handler, in order), so once bob has that message
    the question is settled, and from then on every event reaches every client.
    """
    alice = await a.connect("/ws/alice")
    # local_chat judges the joined line's words: here a slip in them is taken, as long
    # as every client hears the same words.
    maybe = {await alice.expect_like("Client #alice joined", ["alice"], help=JOIN_HELP)}
    await until_subscribed(redis_server, a, since="its first client's arrival")
    bob = await b.connect("/ws/bob")
    joined = await bob.expect_like("Client #bob joined", ["bob"], allowing=maybe, help=JOIN_HELP)
    await alice.expect(joined, help=JOIN_HELP)
    await until_subscribed(redis_server, b, since="its first client's arrival")
    a.transcript.append("both servers had subscribed")
    await alice.send("hi bob")
    await alice.expect("Client #alice: hi bob", help=ONCE_HELP)
    await bob.expect("Client #alice: hi bob", allowing=maybe, help=CROSS_HELP)
    return alice, bob


def outage(redis_server: RedisServer, server: LiveServer) -> None:
    redis_server.stop()
    server.transcript.append("Redis went down (its process was killed)")


async def restart(redis_server: RedisServer, server: LiveServer) -> None:
    """Start Redis again on the same port; try again if the port was taken meanwhile.

    free_port() chose it outside the range the kernel hands out for outgoing
    connections, so none of them can take it while Redis is down; only on a machine so
    crowded that free_port() had to take any free port can the app's own reconnection
    attempt (connected to itself) hold it for a moment.
    """
    for attempt in range(3):
        try:
            await asyncio.to_thread(redis_server.start)
            break
        except RuntimeError:
            if attempt == 2:
                raise
            await asyncio.sleep(0.2)
    server.transcript.append("Redis came back (on the same port)")


@check()
async def subscribes_on_startup(launch: Launcher, redis_server: RedisServer) -> None:
    """On startup, each process subscribes to the Redis server named by REDIS_URL."""
    a = launch(env=redis_env(redis_server), label="A")
    a.transcript.append(f"server A started with REDIS_URL={redis_server.url}")
    await until_subscribed(redis_server, a)
    a.transcript.append("server A had subscribed")
    b = launch(env=redis_env(redis_server), label="B")
    a.transcript.append(f"server B started with REDIS_URL={redis_server.url}")
    await until_subscribed(redis_server, a, b)


@check()
async def local_chat(launch: Launcher, redis_server: RedisServer) -> None:
    """On one process, clients hear each other's joined, messages and left, exactly once."""
    a = launch(env=redis_env(redis_server), label="A")
    a.transcript.append(f"server A started with REDIS_URL={redis_server.url}")
    (alice,) = await chat.join(a, "alice", exact=True, help=SAME_PROCESS_HELP)
    # Subscribed, a process hears its own publications come back: they must not repeat.
    await until_subscribed(redis_server, a, since="its first client's arrival")
    (bob,) = await chat.join(a, "bob", present=(alice,), exact=True, help=SAME_PROCESS_HELP)
    await chat.say(alice, "hello", alice, bob, help=SAME_PROCESS_HELP)
    await chat.say(bob, "hi alice", alice, bob, help=SAME_PROCESS_HELP)
    (carol,) = await chat.join(a, "carol", present=(alice, bob), exact=True, help=SAME_PROCESS_HELP)
    await carol.close()
    for client in (alice, bob):
        await client.expect("Client #carol left", help=SAME_PROCESS_HELP)
    await chat.say(alice, "marker", alice, bob, help=SAME_PROCESS_HELP)


@check(depends=local_chat)
async def keeps_its_tasks(submission: Submission) -> None:
    """Every task the app starts (the subscriber, above all) is kept until it ends:
    asyncio holds tasks weakly, and a task nobody holds can vanish mid-flight."""
    submission.expect_tasks_kept()


# The checks below need clients that get in, not local_chat's words: they take a slip
# in the joined line, as long as every client hears the same words.
@check()
async def joined_crosses(launch: Launcher, redis_server: RedisServer) -> None:
    """When bob joins on process B, alice on A hears that he joined, and bob hears it once."""
    a, b = await two_processes(launch, redis_server)
    alice, bob = await pair(a, b, redis_server)
    # carol's arrival travels through B's subscription, behind any echo of bob's own.
    (carol,) = await chat.join(a, "carol", present=(alice, bob))
    await chat.join(b, "dave", present=(alice, bob, carol))


@check(depends=joined_crosses)
async def messages_cross(launch: Launcher, redis_server: RedisServer) -> None:
    """A message sent on A reaches the clients on B, and one sent on B those on A."""
    a, b = await two_processes(launch, redis_server)
    alice, bob = await pair(a, b, redis_server)
    await chat.say(alice, "hello from A", alice, bob)
    await chat.say(bob, "hello from B", bob, alice)
    for text in ['Zoë: "héllo" 👋 {"origin": 1}', "a:b:c", "  spaced  ", "x" * 3000]:
        await chat.say(alice, text, alice, bob, help="Publish the text intact (JSON keeps it so).")
        await chat.say(bob, text, bob, alice, help="Publish the text intact (JSON keeps it so).")


@check(depends=messages_cross)
async def crosses_through_redis(launch: Launcher, redis_server: RedisServer) -> None:
    """Messages reach the other process through Redis: Redis receives every byte of them."""
    a, b = await two_processes(launch, redis_server)
    alice, bob = await pair(a, b, redis_server)
    text = "through Redis " + "".join(random.choices(string.ascii_letters, k=60_000))
    before = redis_server.received()
    await chat.say(alice, text, alice, bob)
    took = redis_server.received() - before
    a.transcript.append(f"meanwhile, Redis received {took} bytes from its clients")
    if took < len(text):
        raise Failure(
            f"bob on process B received alice's {len(text)}-character message, but Redis "
            f"received only {took} bytes meanwhile: it crossed some other way",
            help="Publish each event to Redis and let every process's subscriber deliver it: "
            "that is what lets the processes run on different machines.",
        )


@check(depends=messages_cross)
async def exactly_once(launch: Launcher, redis_server: RedisServer) -> None:
    """With two clients on each process, every client receives every message exactly once."""
    a, b = await two_processes(launch, redis_server)
    alice, bob = await pair(a, b, redis_server)
    (carol,) = await chat.join(a, "carol", present=(alice, bob))
    (dave,) = await chat.join(b, "dave", present=(alice, bob, carol))
    everyone = (alice, bob, carol, dave)
    # Each message below reaches the other process through its subscription, behind
    # any echo of that process's own earlier publications: a duplicate shows up first.
    await chat.say(alice, "one", *everyone, help=ONCE_HELP)
    await chat.say(dave, "two", *everyone, help=ONCE_HELP)
    await chat.say(carol, "three", *everyone, help=ONCE_HELP)
    await chat.say(bob, "four", *everyone, help=ONCE_HELP)


@check(depends=joined_crosses)
async def left_crosses(launch: Launcher, redis_server: RedisServer) -> None:
    """When alice leaves process A, the clients on both processes receive "Client #alice left",
    and the chat keeps crossing both ways."""
    a, b = await two_processes(launch, redis_server)
    alice, bob = await pair(a, b, redis_server)
    (carol,) = await chat.join(a, "carol", present=(alice, bob))
    help_ = "On WebSocketDisconnect, disconnect() first, then broadcast() 'left': publish it too."
    await alice.close()
    for client in (carol, bob):
        await client.expect("Client #alice left", help=help_)
    # Over the next half second (longer than any pause to subscribe again), messages
    # must keep crossing: a leave is no reason to touch the shared subscription.
    keep = "A client leaving changes nothing about the process's subscription: keep it."
    for n in range(6):
        await chat.say(bob, f"still here {n}", bob, carol, help=keep)
        await chat.say(carol, f"me too {n}", carol, bob, help=keep)
        await asyncio.sleep(scaled(0.1))  # spreads the probes over the half second
    await bob.close()
    await carol.expect("Client #bob left", help=help_)
    await chat.say(carol, "anyone?", carol)


@check(depends=messages_cross)
async def keeps_order(launch: Launcher, redis_server: RedisServer) -> None:
    """100 messages sent quickly by one client reach both processes in the order sent."""
    a, b = await two_processes(launch, redis_server)
    alice, bob = await pair(a, b, redis_server)
    texts = [f"message {n}" for n in range(1, 101)]
    await alice.send_at_once(texts)
    help_ = (
        "Await each publish in the handler (or hand them to one publisher task through a "
        "queue): publishes fired off in separate tasks race each other."
    )
    for client in (bob, alice):
        for text in texts:
            await client.expect(f"Client #alice: {text}", help=help_)


@check()
async def starts_without_redis(launch: Launcher) -> None:
    """With Redis unreachable at startup, the app still starts and serves its own clients."""
    # A free port outside the range for outgoing connections: nobody listens there, and
    # no connection can take it meanwhile, so every attempt to reach Redis is refused.
    a = launch(env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, label="A")
    a.transcript.append("(REDIS_URL names a port where no Redis listens)")
    help_ = (
        "Startup must not wait for Redis: start the subscriber as a background task that "
        "retries. " + LOCAL_HELP
    )
    try:
        alice = await a.connect("/ws/alice")
    except Failure as failure:
        # Whether the process died says which it was: a crash, or a startup still waiting.
        died = a.exit_reason()
        what = f"server A {died} instead of starting without Redis" if died else failure.rationale
        refused = Failure(what, help=help_)
        refused.path = failure.path  # for the diagnosis: which route was refused
        raise refused from None
    # It started: from here on, what matters is local delivery.
    await alice.expect_like("Client #alice joined", ["alice"], help=LOCAL_HELP)
    (bob,) = await chat.join(a, "bob", present=(alice,))
    await chat.say(alice, "anyone?", alice, bob, help=LOCAL_HELP)
    await bob.close()
    await alice.expect("Client #bob left", help=LOCAL_HELP)
    await chat.say(alice, "marker", alice, help=LOCAL_HELP)
    a.expect_no_errors(
        "while Redis was unreachable",
        help="Catch redis.RedisError (and OSError) and log a one-line warning with "
        "logger.warning(...), not logger.exception(...).",
    )


async def held_up(failure: Failure, server: LiveServer) -> Failure:
    """`failure`, told as what it means while Redis holds publications.

    Where the server's tasks wait is asked now: once Redis answers they move on.
    """
    await server.note_where_waiting()
    failure.rationale = (
        f"while Redis left server {server.label}'s publications unanswered, {failure.rationale}"
    )
    failure.help = SLOW_HELP
    return failure


@check()
async def serves_while_redis_is_slow(launch: Launcher, redis_server: RedisServer) -> None:
    """When Redis is slow to answer, the clients of one process are not kept waiting."""
    a = launch(env=redis_env(redis_server), label="A")
    a.transcript.append(f"server A started with REDIS_URL={redis_server.url}")
    (alice,) = await chat.join(a, "alice", help=SAME_PROCESS_HELP)
    await until_subscribed(redis_server, a, since="its first client's arrival")
    (bob,) = await chat.join(a, "bob", present=(alice,), help=SAME_PROCESS_HELP)
    # Held, not refused: a client blocked waiting for the answer blocks its whole loop,
    # however briefly a local Redis would have made it wait.
    redis_server.hold_writes(HOLD_FOR)
    a.transcript.append("Redis began to leave every publication unanswered")
    try:
        await chat.say(alice, "are you there?", alice, bob, help=SLOW_HELP)
        await chat.join(a, "carol", present=(alice, bob), help=SLOW_HELP, refused_help=SLOW_HELP)
    except Failure as failure:
        raise await held_up(failure, a) from None
    finally:
        redis_server.release()
        a.transcript.append("Redis answered again")


@check(depends=messages_cross)
async def survives_outage(launch: Launcher, redis_server: RedisServer) -> None:
    """When Redis goes down, each process keeps serving its own clients and logs a warning."""
    a, b = await two_processes(launch, redis_server)
    alice, bob = await pair(a, b, redis_server)
    logged = {server: len(server.output()) for server in (a, b)}
    outage(redis_server, a)
    await chat.say(alice, "anyone there?", alice, help=LOCAL_HELP)
    (carol,) = await chat.join(a, "carol", present=(alice,))
    await chat.say(carol, "just us on A", alice, carol, help=LOCAL_HELP)
    await chat.say(bob, "alone on B", bob, help=LOCAL_HELP)
    (dave,) = await chat.join(b, "dave", present=(bob,))
    await chat.say(dave, "just us on B", bob, dave, help=LOCAL_HELP)
    warning_help = (
        "Catch redis.RedisError (and OSError) in the subscriber and around publish(), and "
        "log a one-line warning with logger.warning(...): not logger.exception(...), "
        "whose traceback looks like a crash, and not silence, which hides the outage."
    )
    loop = asyncio.get_running_loop()
    for server, before in logged.items():
        server.expect_no_errors("during the Redis outage", help=warning_help)
        # The subscriber may notice a moment later than the clients did: wait, bounded.
        deadline = loop.time() + scaled(2.0)
        while len(server.output()) <= before:
            if loop.time() > deadline:
                raise Failure(
                    f"server {server.label} logged nothing when Redis went down",
                    help=warning_help,
                )
            await asyncio.sleep(0.05)
        server.expect_no_errors("during the Redis outage", help=warning_help)


async def crosses_again(sender: Client, receiver: Client, deadline: float, lost: set[str]) -> None:
    """Probe from `sender` until `receiver` hears one; then prove nothing is duplicated.

    Probes published before the receiver's process has subscribed again are lost (pub/sub
    is at-most-once), so only those after the first one heard must all arrive, in order.
    Messages in `lost` were sent during the outage and may arrive once, late, or never.
    """
    loop = asyncio.get_running_loop()
    first, sent = 0, 0
    while not first:
        if loop.time() > deadline:
            raise Failure(
                f"Redis has been back for {scaled(RESUME_WITHIN):g} s, but none of {sent} messages "
                f"from {sender.name} reached {receiver.name} on the other process",
                help="When the subscriber loses Redis, catch the error, wait a moment "
                "(at most 0.5 s) and subscribe again, in a loop that never gives up.",
            )
        sent += 1
        await chat.say(sender, f"probe {sent}", sender, help=ONCE_HELP)
        frame = await receiver.poll(scaled(PROBE_EVERY))
        if frame is None:
            continue
        if frame in lost:  # a late replay of the outage's message: allowed, once
            lost.discard(frame)
            continue
        probes = [chat.said.format(id=sender.id, text=f"probe {n}") for n in range(1, sent + 1)]
        if frame not in probes:
            raise Mismatch(
                f"{receiver.name} should have received one of {sender.name}'s probes next",
                receiver.transcript.show(probes[-1]),
                receiver.transcript.show(frame),
                help=ONCE_HELP,
            )
        first = probes.index(frame) + 1
    for n in range(first + 1, sent + 1):
        await receiver.expect(chat.said.format(id=sender.id, text=f"probe {n}"), help=ONCE_HELP)
    await chat.say(sender, "marker", sender, receiver, help=ONCE_HELP)


@check(depends=messages_cross, timeout=30)
async def resumes_after_outage(launch: Launcher, redis_server: RedisServer) -> None:
    """Within 5 s of Redis coming back, messages cross both ways again, exactly once."""
    a, b = await two_processes(launch, redis_server)
    alice, bob = await pair(a, b, redis_server)
    outage(redis_server, a)
    # Sent while Redis is down: lost to the other process, unless a process replays them.
    await chat.say(alice, "lost?", alice, help=LOCAL_HELP)
    await chat.say(bob, "lost too?", bob, help=LOCAL_HELP)
    await restart(redis_server, a)
    deadline = asyncio.get_running_loop().time() + scaled(RESUME_WITHIN)
    await crosses_again(alice, bob, deadline, {"Client #alice: lost?"})
    await crosses_again(bob, alice, deadline, {"Client #bob: lost too?"})
    (carol,) = await chat.join(a, "carol", present=(alice, bob))
    await chat.say(carol, "all back", alice, bob, carol, help=ONCE_HELP)


async def stand_in(
    port: int, accept: Callable[[asyncio.StreamReader, asyncio.StreamWriter], None]
) -> asyncio.Server:
    """Listen on Redis's port while it is down; try again if the port is taken meanwhile
    (only on a crowded machine: see restart)."""
    for _ in range(2):
        with contextlib.suppress(OSError):
            return await asyncio.start_server(accept, "127.0.0.1", port)
        await asyncio.sleep(0.2)
    return await asyncio.start_server(accept, "127.0.0.1", port)


async def reconnections(port: int, server: LiveServer) -> int:
    """How many times the app tried to reach Redis, seen by a stand-in on Redis's port
    that accepts each connection and closes it at once, as a dying Redis would.

    Waits (bounded) until ATTEMPTS were made; the port is free again on return.
    """
    seen = 0
    enough = asyncio.Event()

    def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        seen += 1
        writer.close()
        if seen >= ATTEMPTS:
            enough.set()

    listener = await stand_in(port, refuse)
    server.transcript.append("a stand-in on Redis's port closed every connection at once")
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), scaled(ATTEMPTS_WITHIN))
    finally:
        listener.close()
        await listener.wait_closed()
    server.transcript.append(f"server {server.label} tried to reach Redis {seen} times")
    return seen


# Lines a process may print on each attempt: not warnings, but notes for debugging.
QUIETER = re.compile(r"\b(DEBUG|INFO)\b")


def warnings_in(output: str) -> list[str]:
    """The lines of `output` that log at warning level or above: a record's first line,
    not a traceback's frames, nor one marked DEBUG or INFO."""
    return [
        line
        for line in output.splitlines()
        if line.strip() and not line[0].isspace() and not QUIETER.search(line[:60])
    ]


@check(depends=(survives_outage, resumes_after_outage))
async def warns_once_per_outage(launch: Launcher, redis_server: RedisServer) -> None:
    """When Redis goes down, a process logs a warning when the outage starts, not on every
    attempt to reconnect."""
    a = launch(env=redis_env(redis_server), label="A")
    a.transcript.append(f"server A started with REDIS_URL={redis_server.url}")
    await chat.join(a, "alice")
    await until_subscribed(redis_server, a, since="its first client's arrival")
    before = len(a.output())
    # Nobody sends meanwhile: whatever the process logs comes from its retry loop.
    outage(redis_server, a)
    attempts = await reconnections(redis_server.port, a)
    logged = warnings_in(a.output()[before:])
    # About one warning per attempt; a few (lost, still lost, back) are fine.
    if attempts >= 4 and len(logged) > 2 and 2 * len(logged) > attempts:
        raise Failure(
            f"server A logged {len(logged)} warnings during one Redis outage, in which it "
            f"tried {attempts} times to reconnect: {logged[-1][:200]!r} again and again",
            help=WARN_ONCE_HELP,
        )


@check(depends=messages_cross)
async def shuts_down_cleanly(launch: Launcher, redis_server: RedisServer) -> None:
    """On SIGTERM a process exits within 5 s without a traceback, and the other keeps going."""
    a, b = await two_processes(launch, redis_server)
    alice, bob = await pair(a, b, redis_server)
    help_ = (
        "In the lifespan, after yield: cancel the subscriber task and await it (a loop that "
        "catches CancelledError, or BaseException, never ends), then close the Redis client."
    )
    within = scaled(EXIT_WITHIN)
    if not await a.shutdown(within=within):
        raise Failure(f"server A was still running {within:g} s after SIGTERM", help=help_)
    a.expect_no_errors("while shutting down", help=help_)
    # A may or may not have announced that alice left as it closed her connection.
    allowed = {"Client #alice left"}
    await bob.send("still here?")
    allowed -= await bob.expect("Client #bob: still here?", allowing=allowed, help=ONCE_HELP)
    carol = await b.connect("/ws/carol")
    joined = await carol.expect_like("Client #carol joined", ["carol"])
    await bob.expect(joined, allowing=allowed, help=ONCE_HELP)
    await chat.say(carol, "just us", bob, carol)
