"""Exercise 5 — guarded: tokens and ids are checked before accept, and limits hold.

Every check sets its own TOKENS (and small limits where it needs them) through the
module's constants, so the endpoint must read them when a client connects. Silence is
proven with markers: a later message arriving next shows that nothing came in between.
"""

from contextlib import suppress
from urllib.parse import quote

from checks._chat import Chat
from grader import Client, Failure, LiveServer, Submission, check

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


chat = Chat(
    path=path,
    joined="Client #{id} joined",
    said="Client #{id}: {text}",
    join_help="Once a client is admitted, announce it to everyone, itself included.",
    refused_help=ADMIT_HELP,
)


@check(settings={"TOKENS": TOKENS})
async def admits_known_client(server: LiveServer) -> None:
    """A client with its own token, /ws/alice?token=…, is accepted, and is told first that
    it joined."""
    alice = await server.connect(path("alice"), help=ADMIT_HELP)
    # chats_as_before judges the words: a slip there is no reason to skip every check.
    await alice.expect_like("Client #alice joined", ["alice"])


@check(depends=admits_known_client, settings={"TOKENS": TOKENS})
async def chats_as_before(server: LiveServer) -> None:
    """Admitted clients chat as in broadcast: joins and messages reach all, "left" the rest."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol", exact=True)
    await chat.say(alice, "hello", alice, bob, carol)
    await alice.close()
    for client in (bob, carol):
        await client.expect(
            "Client #alice left",
            help="On WebSocketDisconnect, remove the connection first, then broadcast "
            '"Client #… left" to the others.',
        )
    await chat.marker(carol, carol, bob, help="Each event is broadcast exactly once.")


@check(depends=admits_known_client, settings={"TOKENS": TOKENS})
async def refuses_bad_tokens(server: LiveServer) -> None:
    """A missing, empty, wrong or borrowed token gets HTTP 403, and nobody hears of it."""
    (alice,) = await chat.join(server, "alice")
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
        await server.expect_refused(attempt, help=refuse)
    # bob's own token still works, and the refusals left no trace before his arrival.
    silent = "A refused client was never admitted: announce neither joined nor left for it."
    await chat.join(server, "bob", present=(alice,), help=silent)
    await chat.marker(alice, alice, help=silent)


@check(depends=refuses_bad_tokens, settings={"TOKENS": TOKENS})
async def compares_tokens_in_constant_time(submission: Submission) -> None:
    """Tokens are compared with secrets.compare_digest, never with == or !=, so how long
    a refusal takes gives nothing away."""
    submission.expect_no_equality_on(
        "TOKENS",
        help="== stops at the first character that differs, so how long a refusal takes "
        "tells an attacker how much of a guess was right. Compare with "
        "`secrets.compare_digest(token.encode(), expected.encode())`.",
    )


@check(depends=admits_known_client, settings={"TOKENS": TOKENS})
async def refuses_non_ascii_token(server: LiveServer) -> None:
    """A token with non-ASCII characters, such as ?token=é, gets HTTP 403, not a server error."""
    (alice,) = await chat.join(server, "alice")
    refuse = (
        "A token that is not exactly the user's is refused before accept(), whatever "
        "characters it holds: close with 1008 and return."
    )
    await server.expect_refused(path("alice", "é"), help=refuse)
    await server.expect_refused(path("bob", TOKENS["bob"] + "€"), help=refuse)
    await chat.marker(
        alice, alice, help="A refused client was never admitted: announce nothing for it."
    )


@check(
    depends=admits_known_client,
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
    (alice,) = await chat.join(server, "alice")
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
        await server.expect_refused(f"/ws/{attempt}?token={token}", help=refuse)
    await chat.marker(
        alice, alice, help="A refused client was never admitted: announce nothing for it."
    )


@check(
    depends=admits_known_client,
    settings={"TOKENS": {"A": "t1", "x_y-9": "t2", "Z" * 32: "t3", "0": "t4", "-_-": "t5"}},
)
async def admits_every_valid_id(server: LiveServer) -> None:
    """Every id of 1 to 32 letters, digits, _ and - is admitted, such as "A", "x_y-9", "-_-"
    and 32 × "Z"."""
    clients: list[Client] = []
    for name, token in [("A", "t1"), ("x_y-9", "t2"), ("Z" * 32, "t3"), ("0", "t4"), ("-_-", "t5")]:
        clients += await chat.join(
            server,
            name,
            token=token,
            present=clients,
            refused_help="Valid ids are 1 to 32 characters, each an ASCII letter (either "
            "case), a digit, '_' or '-': r'[A-Za-z0-9_-]{1,32}'.",
        )


@check(depends=admits_known_client, settings={"TOKENS": TOKENS, "MAX_CONNECTIONS": 2})
async def turns_away_when_full(server: LiveServer) -> None:
    """With MAX_CONNECTIONS = 2, a third client is accepted, then closed with 1013 and a
    reason, and nobody hears of it; a bad token still gets HTTP 403."""
    alice, bob = await chat.join(server, "alice", "bob")
    full = (
        "Here MAX_CONNECTIONS = 2 and alice and bob are connected, so the server is full: "
        "it is full when the number connected is >= MAX_CONNECTIONS (read the constant at "
        'call time). Then accept() the newcomer, close(code=1013, reason="server full"), '
        "and neither store nor announce it."
    )
    carol = await server.connect(path("carol"), help=full)
    if not await carol.expect_closed(1013, help=full):
        raise Failure(
            "carol's connection was closed with code 1013 but without a reason",
            help='Give the client a reason it can show: close(code=1013, reason="server full").',
        )
    # A bad token is still refused before accept, full or not.
    await server.expect_refused(
        path("dave", "wrong"),
        help="Check the token before anything else: a stranger gets HTTP 403 even when full.",
    )
    await chat.marker(
        alice,
        alice,
        bob,
        help="A client turned away was never admitted: announce neither joined nor left for it.",
    )


CROWD = {f"guest{n}": f"k3y-guest-{n:04}" for n in range(12)}


@check(depends=admits_known_client, settings={"TOKENS": {**TOKENS, **CROWD}})
async def admits_a_crowd_by_default(server: LiveServer) -> None:
    """With the module's own MAX_CONNECTIONS (100, as the lesson says), a dozen clients
    are all admitted."""
    crowd = (
        "Every client within the limit is admitted: keep MAX_CONNECTIONS = 100, the "
        "default the lesson gives (the checks change it only where they say so)."
    )
    clients: list[Client] = []
    for name, token in CROWD.items():
        clients += await chat.join(
            server, name, token=token, present=clients, help=crowd, refused_help=crowd
        )


@check(depends=turns_away_when_full, settings={"TOKENS": TOKENS, "MAX_CONNECTIONS": 2})
async def admits_again_after_leave(server: LiveServer) -> None:
    """When a client leaves a full server, the next newcomer is admitted again."""
    alice, bob = await chat.join(server, "alice", "bob")
    carol = await server.connect(path("carol"), help=ADMIT_HELP)
    await carol.expect_closed(1013)
    await bob.close()
    await alice.expect("Client #bob left")
    slot = (
        "Count only the clients that are connected now: a client turned away must not keep "
        "a slot, and one that leaves must free its slot."
    )
    (carol,) = await chat.join(server, "carol", present=(alice,), help=slot, refused_help=slot)
    dave = await server.connect(path("dave"), help=ADMIT_HELP)
    await dave.expect_closed(1013)
    await chat.marker(
        carol, carol, alice, help="A client turned away is announced neither joined nor left."
    )


@check(depends=admits_known_client, settings={"TOKENS": TOKENS, "MAX_MESSAGE_BYTES": 16})
async def closes_oversized_sender(server: LiveServer) -> None:
    """With MAX_MESSAGE_BYTES = 16, a 17-byte message is not relayed: 1009 closes its sender."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    await alice.send("x" * 17)
    await alice.expect_closed(
        1009,
        help="Measure every message (read MAX_MESSAGE_BYTES at call time). If it is too big, "
        "relay nothing: remove the sender, close(code=1009), then announce it left.",
    )
    for client in (bob, carol):
        await client.expect(
            "Client #alice left",
            help="Closing the sender ends its session: remove it from the manager, then "
            'broadcast "Client #alice left" to the rest.',
        )
    await chat.marker(bob, bob, carol, help="Announce the closed sender's leaving exactly once.")


@check(depends=closes_oversized_sender, settings={"TOKENS": TOKENS})
async def counts_utf8_bytes(server: LiveServer) -> None:
    """The limit is 4096 UTF-8 bytes: 4096 × "x" and 2000 × "é" pass, 1366 × "€" closes
    with 1009."""
    alice, bob = await chat.join(server, "alice", "bob")
    for text in ["x" * 4096, "é" * 2000]:
        await chat.say(
            alice,
            text,
            alice,
            bob,
            help="MAX_MESSAGE_BYTES (4096 by default) is the largest size allowed: a message "
            "of exactly that many bytes is relayed; only a bigger one is not.",
        )
    await bob.send("€" * 1366)  # 1366 characters, 4098 bytes
    await bob.expect_closed(
        1009,
        help="Count bytes, not characters: len(data.encode('utf-8')). '€' is one character "
        "but three bytes.",
    )
    await alice.expect("Client #bob left")


# An app that lets nobody in has nothing to show: the check needs clients to get in.
@check(
    depends=admits_known_client,
    settings={"TOKENS": TOKENS, "MAX_CONNECTIONS": 2, "MAX_MESSAGE_BYTES": 16},
)
async def no_server_errors(server: LiveServer) -> None:
    """The server logs no unhandled exception while refusing, turning away and closing clients."""

    async def closed(client_path: str) -> None:
        """A newcomer turned away (or let in: another check's failure) reads what comes."""
        client = await server.connect(client_path)
        await client.drain("marker")

    # What is said, and how clients are refused, is judged by the other checks: here
    # each step may go either way, and whatever the server logged counts.
    for attempt in (path("alice", "wrong"), "/ws/has%20space?token=x"):
        with suppress(Failure):
            await server.expect_refused(attempt, 403)
    with suppress(Failure):
        alice, bob = await chat.enter(server, "alice", "bob")
        await closed(path("carol"))
        await bob.send("y" * 17)
        await bob.drain("marker")  # until closed, or quiet
        await alice.drain("bob")
        (carol,) = await chat.enter(server, "carol")
        await alice.drain("carol")
        await closed(path("dave"))
        await carol.close()
        await alice.drain("carol")
        # The marker is handled after the other handlers have finished, errors included.
        await alice.send("marker")
        await alice.drain("marker")
    server.expect_no_errors()
