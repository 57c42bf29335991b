"""Exercise 5 — guarded: tokens and ids are checked before accept, and limits hold.

Every check sets its own TOKENS (and small limits where it needs them) through the
module's constants, so the endpoint must read them when a client connects. Silence is
proven with markers: a later message arriving next shows that nothing came in between.
"""

from urllib.parse import quote

from grader import Failure, LiveServer, check
from grader.client import Client

# Different from the demo users in the solution: only code that reads TOKENS at
# connection time admits them.
TOKENS = {
    "alice": "k3y-alice-0451",
    "bob": "k3y-bob-1183",
    "carol": "k3y-carol-2290",
    "dave": "k3y-dave-3374",
}

ADMIT_HELP = (
    "Admit a client whose ?token= equals TOKENS[client_id]. Read TOKENS when the client "
    "connects, not at import: the checks put their own users in it."
)


def path(name: str, token: str | None = None) -> str:
    """/ws/<name>?token=<its token in TOKENS>, or with the `token` given."""
    return f"/ws/{name}?token={quote(TOKENS[name] if token is None else token, safe='')}"


async def connect(server: LiveServer, name: str, help: str = ADMIT_HELP) -> Client:  # noqa: A002
    """Connect `name` with its own token; a refusal gets this exercise's advice."""
    try:
        return await server.connect(path(name), name)
    except Failure as exc:
        if "HTTP 403" in exc.rationale:  # other statuses keep the grader's own advice
            exc.help = help
        raise


async def join(
    server: LiveServer,
    *names: str,
    present: tuple[Client, ...] = (),
    help: str = "Once a client is admitted, announce it to everyone, itself included.",  # noqa: A002
) -> list[Client]:
    """Connect clients one by one, each one and everyone present seeing it join."""
    clients = list(present)
    for name in names:
        client = await connect(server, name)
        for seen_by in [*clients, client]:
            await seen_by.expect(f"Client #{name} joined", help=help)
        clients.append(client)
    return clients[len(present) :]


async def marker(sender: Client, *others: Client, help: str) -> None:
    """`sender` speaks; it must be the very next frame for everyone."""
    await sender.send("marker")
    for client in (sender, *others):
        await client.expect(f"Client #{sender.name}: marker", help=help)


async def expect_refused(server: LiveServer, url: str, help: str) -> None:
    try:
        await server.expect_refused(url, 403)
    except Failure as exc:
        exc.help = help
        raise


@check(settings={"TOKENS": TOKENS})
async def admits_known_client(server: LiveServer) -> None:
    """A client with its own token, /ws/alice?token=…, is accepted and gets
    "Client #alice joined"."""
    alice = await connect(server, "alice")
    await alice.expect("Client #alice joined")


@check(depends=admits_known_client, settings={"TOKENS": TOKENS})
async def chats_as_before(server: LiveServer) -> None:
    """Admitted clients chat as in broadcast: joins and messages reach all, "left" the rest."""
    alice, bob, carol = await join(server, "alice", "bob", "carol")
    await alice.send("hello")
    for client in (alice, bob, carol):
        await client.expect("Client #alice: hello")
    await alice.close()
    for client in (bob, carol):
        await client.expect(
            "Client #alice left",
            help="On WebSocketDisconnect, remove the connection first, then broadcast "
            '"Client #… left" to the others.',
        )
    await marker(carol, bob, help="Each event is broadcast exactly once.")


@check(depends=chats_as_before, settings={"TOKENS": TOKENS})
async def refuses_bad_tokens(server: LiveServer) -> None:
    """A missing, empty, wrong or borrowed token gets HTTP 403, and nobody hears of it."""
    (alice,) = await join(server, "alice")
    refuse = (
        "Before accept(), look up TOKENS.get(client_id): if there is none, or no token was "
        "given, or they differ, `await websocket.close(code=1008)` and return."
    )
    for attempt in [
        "/ws/bob",
        "/ws/bob?token=",
        path("bob", "wrong"),
        path("bob", TOKENS["alice"]),  # a real token, but alice's
        path("bob", TOKENS["bob"][:-1]),
        path("bob", TOKENS["bob"] + "0"),
        "/ws/mallory",  # unknown to TOKENS, and no token either
        path("mallory", TOKENS["bob"]),
    ]:
        await expect_refused(server, attempt, refuse)
    # bob's own token still works, and the refusals left no trace before his arrival.
    silent = "A refused client was never admitted: announce neither joined nor left for it."
    await join(server, "bob", present=(alice,), help=silent)
    await marker(alice, help=silent)


@check(depends=chats_as_before, settings={"TOKENS": TOKENS})
async def refuses_non_ascii_token(server: LiveServer) -> None:
    """A token with non-ASCII characters, such as ?token=é, gets HTTP 403, not a server error."""
    (alice,) = await join(server, "alice")
    refuse = (
        "A token that is not exactly the user's is refused before accept(), whatever "
        "characters it holds: close with 1008 and return."
    )
    await expect_refused(server, path("alice", "é"), refuse)
    await expect_refused(server, path("bob", TOKENS["bob"] + "€"), refuse)
    await marker(alice, help="A refused client was never admitted: announce nothing for it.")


@check(
    depends=chats_as_before,
    settings={
        "TOKENS": {
            **TOKENS,
            "a" * 33: "long",
            "has space": "space",
            "zoë": "accent",
            "alice\n": "newline",
            "dot.ted": "dot",
        }
    },
)
async def refuses_malformed_ids(server: LiveServer) -> None:
    """Ids that are not 1–32 of A–Z a–z 0–9 _ - get HTTP 403, even with a matching token."""
    (alice,) = await join(server, "alice")
    refuse = (
        "Before accept(), test the id with re.fullmatch(r'[A-Za-z0-9_-]{1,32}', client_id) "
        "(with re.match, '$' also matches before a final newline; \\w and isalnum() "
        "accept non-ASCII letters) and close with 1008 if it does not match."
    )
    for attempt, token in [
        ("a" * 33, "long"),
        ("has%20space", "space"),
        ("zo%C3%AB", "accent"),
        ("alice%0A", "newline"),
        ("dot.ted", "dot"),
    ]:
        await expect_refused(server, f"/ws/{attempt}?token={token}", refuse)
    await marker(alice, help="A refused client was never admitted: announce nothing for it.")


@check(
    depends=chats_as_before,
    settings={"TOKENS": {"A": "t1", "x_y-9": "t2", "Z" * 32: "t3", "0": "t4", "-_-": "t5"}},
)
async def admits_every_valid_id(server: LiveServer) -> None:
    """Every id of 1 to 32 letters, digits, _ and - is admitted, such as "A", "x_y-9", "-_-"
    and 32 × "Z"."""
    clients: list[Client] = []
    for name, token in [("A", "t1"), ("x_y-9", "t2"), ("Z" * 32, "t3"), ("0", "t4"), ("-_-", "t5")]:
        try:
            client = await server.connect(f"/ws/{name}?token={token}", name)
        except Failure as exc:
            if "HTTP 403" in exc.rationale:
                exc.help = (
                    "Valid ids are 1 to 32 characters, each an ASCII letter (either case), a "
                    "digit, '_' or '-': r'[A-Za-z0-9_-]{1,32}'."
                )
            raise
        clients.append(client)
        for seen_by in clients:
            await seen_by.expect(f"Client #{name} joined")


@check(depends=chats_as_before, settings={"TOKENS": TOKENS, "MAX_CONNECTIONS": 2})
async def turns_away_when_full(server: LiveServer) -> None:
    """With MAX_CONNECTIONS = 2, a third client is accepted, then closed with 1013 and a
    reason, and nobody hears of it; a bad token still gets HTTP 403."""
    alice, bob = await join(server, "alice", "bob")
    full = (
        "When MAX_CONNECTIONS clients are connected (read the constant at call time), "
        'accept() the newcomer, then close(code=1013, reason="server full") before it '
        "is stored or announced."
    )
    carol = await connect(server, "carol", help=full)
    try:
        await carol.expect_closed(1013)
    except Failure as exc:
        exc.help = full
        raise
    if not carol.ws.close_reason:
        raise Failure(
            "carol's connection was closed with code 1013 but without a reason",
            help='Give the client a reason it can show: close(code=1013, reason="server full").',
        )
    # A bad token is still refused before accept, full or not.
    await expect_refused(
        server,
        path("dave", "wrong"),
        "Check the token before anything else: a stranger gets HTTP 403 even when full.",
    )
    await marker(
        alice,
        bob,
        help="A client turned away was never admitted: announce neither joined nor left for it.",
    )


CROWD = {f"guest{n}": f"k3y-guest-{n:04}" for n in range(12)}


@check(depends=chats_as_before, settings={"TOKENS": {**TOKENS, **CROWD}})
async def admits_a_crowd_by_default(server: LiveServer) -> None:
    """With the module's own MAX_CONNECTIONS (100, as the lesson says), a dozen clients
    are all admitted."""
    clients: list[Client] = []
    for name, token in CROWD.items():
        client = await server.connect(f"/ws/{name}?token={token}", name)
        for seen_by in [client, *clients]:
            await seen_by.expect(
                f"Client #{name} joined",
                help="Every client within the limit is admitted: keep MAX_CONNECTIONS = 100, "
                "the default the lesson gives (the checks change it only where they say so).",
            )
        clients.append(client)


@check(depends=turns_away_when_full, settings={"TOKENS": TOKENS, "MAX_CONNECTIONS": 2})
async def admits_again_after_leave(server: LiveServer) -> None:
    """When a client leaves a full server, the next newcomer is admitted again."""
    alice, bob = await join(server, "alice", "bob")
    carol = await connect(server, "carol")
    await carol.expect_closed(1013)
    await bob.close()
    await alice.expect("Client #bob left")
    try:
        (carol,) = await join(server, "carol", present=(alice,))
    except Failure as exc:
        exc.help = (
            "Count only the clients that are connected now: a client turned away must not "
            "keep a slot, and one that leaves must free its slot."
        )
        raise
    dave = await connect(server, "dave")
    await dave.expect_closed(1013)
    await marker(carol, alice, help="A client turned away is announced neither joined nor left.")


@check(depends=chats_as_before, settings={"TOKENS": TOKENS, "MAX_MESSAGE_BYTES": 16})
async def closes_oversized_sender(server: LiveServer) -> None:
    """With MAX_MESSAGE_BYTES = 16, a 17-byte message is not relayed: 1009 closes its sender."""
    alice, bob, carol = await join(server, "alice", "bob", "carol")
    await alice.send("x" * 17)
    try:
        await alice.expect_closed(1009)
    except Failure as exc:
        exc.help = (
            "Measure every message (read MAX_MESSAGE_BYTES at call time). If it is too big, "
            "relay nothing: remove the sender, close(code=1009), then announce it left."
        )
        raise
    for client in (bob, carol):
        await client.expect(
            "Client #alice left",
            help="Closing the sender ends its session: remove it from the manager, then "
            'broadcast "Client #alice left" to the rest.',
        )
    await marker(bob, carol, help="Announce the closed sender's leaving exactly once.")


@check(depends=closes_oversized_sender, settings={"TOKENS": TOKENS})
async def counts_utf8_bytes(server: LiveServer) -> None:
    """The limit is 4096 UTF-8 bytes: 4096 × "x" and 2000 × "é" pass, 1366 × "€" closes
    with 1009."""
    alice, bob = await join(server, "alice", "bob")
    for text in ["x" * 4096, "é" * 2000]:
        await alice.send(text)
        for client in (alice, bob):
            await client.expect(
                f"Client #alice: {text}",
                help="MAX_MESSAGE_BYTES (4096 by default) is the largest size allowed: a "
                "message of exactly that many bytes is relayed; only a bigger one is not.",
            )
    await bob.send("€" * 1366)  # 1366 characters, 4098 bytes
    try:
        await bob.expect_closed(1009)
    except Failure as exc:
        exc.help = (
            "Count bytes, not characters: len(data.encode('utf-8')). "
            "'€' is one character but three bytes."
        )
        raise
    await alice.expect("Client #bob left")


@check(
    depends=chats_as_before,
    settings={"TOKENS": TOKENS, "MAX_CONNECTIONS": 2, "MAX_MESSAGE_BYTES": 16},
)
async def no_server_errors(server: LiveServer) -> None:
    """The server logs no unhandled exception while refusing, turning away and closing clients."""
    await server.expect_refused(path("alice", "wrong"), 403)
    await server.expect_refused("/ws/has%20space?token=x", 403)
    alice, bob = await join(server, "alice", "bob")
    carol = await connect(server, "carol")
    await carol.expect_closed(1013)
    await bob.send("y" * 17)
    await bob.expect_closed(1009)
    await alice.expect("Client #bob left")
    (carol,) = await join(server, "carol", present=(alice,))
    dave = await connect(server, "dave")
    await dave.expect_closed(1013)
    await carol.close()
    await alice.expect("Client #carol left")
    # The marker is handled after the other handlers have finished, errors included.
    await marker(alice, help="Each event is broadcast exactly once.")
    server.expect_no_errors()
