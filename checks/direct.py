"""Exercise 2 — direct: private messages by client id, and one connection per id.

Each check gets a fresh server. Silence is proven with markers: a later message
arriving next shows that nothing was sent in between. A client opened with
`reading=False` never reads, so once its buffers are full the server's sends to it
wait: that is how a check holds a broadcast up in the middle of its loop.
"""

from contextlib import suppress

from checks._chat import Chat
from grader import Client, Failure, LiveServer, check

chat = Chat(path="/ws/{id}", joined="Client #{id} joined", said="Client #{id}: {text}")

COPY_HELP = (
    "broadcast() must loop over a copy taken before its first send, `for websocket in "
    "list(self.active_connections.values()):`. Each send may wait, and meanwhile other "
    "clients leave and join: a dict that changes size under a loop raises RuntimeError at "
    "the loop's next step, and the clients after that step never get the message."
)

LEFT_HELP = (
    "On WebSocketDisconnect, remove the client by its id first, then broadcast that it left."
)
PRIVATE_HELP = (
    "A message `@target text` goes to the target alone, via send_personal(), as "
    '"Client #{sender} (private): {text}".'
)
CONFIRM_HELP = 'After delivering, send the sender "You to #{target}: {text}" as a confirmation.'


async def whisper(
    sender: Client,
    target: Client,
    text: str,
    *,
    help: str | None = None,
    confirm_help: str | None = None,
) -> None:
    """`sender` sends "@target text": the target gets the private line next, then the
    sender the confirmation. Their words are delivers_private_message's to judge: a slip
    in them passes here, but never the public line, nor the text changed."""
    await sender.send(f"@{target.id} {text}")
    public = chat.said.format(id=sender.id, text=f"@{target.id} {text}")
    await target.expect_like(
        f"Client #{sender.id} (private): {text}",
        [sender.id, text],
        unlike=[public, chat.said.format(id=sender.id, text=text)],
        help=help or PRIVATE_HELP,
    )
    await sender.expect_like(
        f"You to #{target.id}: {text}",
        [target.id, text],
        unlike=[public, f"Client #{sender.id} (private): {text}"],
        help=confirm_help or CONFIRM_HELP,
    )


FREED = (
    "Once a client has left, its id is free again: disconnect() must forget the client "
    "everywhere connect() looks for taken ids."
)


@check()
async def greets_newcomer(server: LiveServer) -> None:
    """A client that connects to /ws/alice is accepted, and is told first that it joined."""
    alice = await server.connect("/ws/alice")
    # keeps_public_chat judges the words: a slip there is no reason to skip every check.
    await alice.expect_like(
        "Client #alice joined",
        ["alice"],
        help="connect() must accept the connection and store it under its client id "
        "before the endpoint broadcasts, so the newcomer hears about itself.",
    )


@check(depends=greets_newcomer)
async def keeps_public_chat(server: LiveServer) -> None:
    """Joins, public messages and leaves reach everyone as in exercise 1, sender included."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol", exact=True)
    await chat.say(
        alice,
        "hello",
        alice,
        bob,
        carol,
        help="A message that is not `@target text` is broadcast to every client, the "
        "sender included.",
    )
    # alice is the oldest entry: a "left" broadcast that trips over her socket stops early.
    await alice.close()
    for client in (bob, carol):
        await client.expect(
            "Client #alice left",
            help="On WebSocketDisconnect, remove the client by its id first, then broadcast "
            "that it left.",
        )
    await chat.say(carol, "still here?", bob, carol)


@check(depends=greets_newcomer)
async def delivers_private_message(server: LiveServer) -> None:
    """When alice sends "@bob hi there", bob alone receives "Client #alice (private): hi
    there" and alice receives "You to #bob: hi there"."""
    alice, bob = await chat.join(server, "alice", "bob")
    await alice.send("@bob hi there")
    await bob.expect("Client #alice (private): hi there", help=PRIVATE_HELP)
    await alice.expect("You to #bob: hi there", help=CONFIRM_HELP)


@check(depends=greets_newcomer)
async def private_stays_private(server: LiveServer) -> None:
    """A private message reaches its target once and confirms to its sender once;
    nobody else receives anything."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    await whisper(alice, bob, "psst")
    # Had carol (or anyone) been sent anything more, it would arrive before the marker.
    await chat.marker(
        carol,
        alice,
        bob,
        carol,
        help="A private message must not be broadcast: only the target gets it, and only "
        "the sender gets the confirmation.",
    )
    await whisper(bob, carol, "between us")
    await chat.marker(alice, alice, bob, carol, help="Each private message is sent exactly once.")


@check(depends=greets_newcomer)
async def keeps_private_text_verbatim(server: LiveServer) -> None:
    """The private text is everything after the first space, exactly as sent: spaces,
    "@" and unicode intact."""
    alice, bob = await chat.join(server, "alice", "bob")
    texts = [
        "  two  spaces  ",
        "cc @carol and @dave",
        'Zoë says "héllo" 👋',
        "tab\there",
        "x" * 3000,
    ]
    verbatim = (
        "Split only at the first space (str.partition(' ') or split(' ', 1)), and keep the "
        "rest as it is: no strip(), no split() without arguments."
    )
    for text in texts:
        await whisper(alice, bob, text, help=verbatim, confirm_help=verbatim)


@check(depends=greets_newcomer)
async def messages_self(server: LiveServer) -> None:
    """A note to yourself ("@alice note") arrives as the private line, then the confirmation."""
    alice, bob = await chat.join(server, "alice", "bob")
    await whisper(
        alice,
        alice,
        "note to self",
        help="Yourself is a target like any other: deliver the private line first.",
        confirm_help="The confirmation follows the delivery, even when target and sender "
        "are the same client.",
    )
    await chat.marker(bob, alice, bob)


@check(depends=greets_newcomer)
async def treats_other_messages_as_public(server: LiveServer) -> None:
    """Messages not of the form "@target text", such as "@bob", "@bob " or "@ hi", are
    public, and so is a mention inside a message: "ping @bob later"."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    for data in ["@bob", "@bob ", "@ hi", "hi @bob", "@", "ping @bob later", "to bob@home: hi"]:
        await chat.say(
            alice,
            data,
            alice,
            bob,
            carol,
            help="Only a message that starts with `@target text`, with a non-empty target "
            "and a non-empty text, is private; everything else is an ordinary public "
            "message, relayed as is.",
        )


@check(depends=greets_newcomer)
async def reports_unknown_target(server: LiveServer) -> None:
    """A private message to an id that is not connected ("@nobody hi") gets the sender
    alone "Client #nobody is not connected"; ids match exactly, case included."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    await alice.send("@nobody are you there?")
    await alice.expect(
        "Client #nobody is not connected",
        help="If send_personal() finds no such client, tell the sender alone, and send "
        "no confirmation.",
    )
    await alice.send("@Bob hi")
    await alice.expect(
        "Client #Bob is not connected",
        help="Client ids are matched exactly, upper and lower case included.",
    )
    await chat.marker(
        bob,
        alice,
        bob,
        carol,
        help="Nobody but the sender hears about a message to a missing client.",
    )


@check(depends=greets_newcomer)
async def forgets_departed_clients(server: LiveServer) -> None:
    """After bob leaves, "@bob …" reports him not connected, and a new bob can join and
    be reached."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    await bob.close()
    for client in (alice, carol):
        await client.expect("Client #bob left")
    await alice.send("@bob still there?")
    await alice.expect(
        "Client #bob is not connected",
        help="bob has left, so send_personal() must find nobody: disconnect(client_id) "
        "removes exactly the client that left, and only a private line actually delivered "
        "(send_personal() returned True) is confirmed to the sender.",
    )
    new_bob = await server.connect("/ws/bob", "bob (again)", help=FREED)
    joined = await alice.expect_like("Client #bob joined", ["bob"])
    for client in (carol, new_bob):
        await client.expect(joined)
    await whisper(alice, new_bob, "welcome back")
    await chat.marker(carol, alice, carol, new_bob)


@check(depends=keeps_public_chat)
async def broadcast_survives_a_leave(server: LiveServer) -> None:
    """A broadcast reaches everyone even when a client leaves while it is under way."""
    # The dict keeps join order: a broadcast serves amy and leo, then waits to send to
    # stuck, who has stopped reading, and zoe is still to be served.
    amy, leo, stuck, zoe = await chat.join(server, "amy", "leo", "stuck", "zoe", stalled="stuck")
    stall = await chat.stall(amy, stuck, amy, leo, zoe, help=COPY_HELP)
    # leo has his copy; while the broadcast waits, he leaves and disconnect() deletes him.
    await stall.leave(leo, help=LEFT_HELP)
    # stuck reads again: the broadcast goes on where it waited, and must reach zoe.
    await stall.resume(["Client #stuck joined", "Client #zoe joined"], help=COPY_HELP)
    await chat.marker(amy, *stall.present, help=COPY_HELP)
    server.expect_no_errors("while a client left during a broadcast", help=COPY_HELP)


@check(depends=greets_newcomer)
async def refuses_duplicate_id(server: LiveServer) -> None:
    """A second connection to /ws/alice while alice is connected is refused with HTTP 403."""
    (alice,) = await chat.join(server, "alice")
    await server.expect_refused(
        "/ws/alice",
        403,
        help="In connect(), when the id is already in active_connections, call "
        "`await websocket.close(code=1008)` *instead of* accept(): closing before "
        "accepting rejects the handshake with HTTP 403.",
    )


@check(depends=refuses_duplicate_id)
async def duplicate_leaves_holder_untouched(server: LiveServer) -> None:
    """A refused duplicate alice is never announced as joined or left, and the first
    alice keeps chatting and receiving private messages."""
    alice, bob = await chat.join(server, "alice", "bob")
    await server.expect_refused("/ws/alice", 403)
    await chat.marker(
        bob,
        alice,
        bob,
        help="A refused connection was never in the chat: the endpoint must return at once, "
        'without broadcasting "joined" or "left" and without calling disconnect().',
    )
    await whisper(
        bob,
        alice,
        "you there?",
        help="The refused connection must not replace or remove the one that holds the id.",
    )
    await chat.say(alice, "yes", alice, bob)
    await alice.close()
    await bob.expect("Client #alice left")
    await chat.join(server, "alice", present=(bob,), refused_help=FREED)


# An app that lets nobody in has nothing to show: the check needs clients to get in.
@check(depends=greets_newcomer)
async def no_server_errors(server: LiveServer) -> None:
    """The server logs no unhandled exception while clients chat, whisper, collide and leave."""
    # What is said is judged by the other checks: here only a refused or closed
    # connection cuts the scene short, and whatever the server logged until then counts.
    with suppress(Failure):
        alice, bob, carol = await chat.enter(server, "alice", "bob", "carol")
        with suppress(Failure):  # a duplicate let in is another check's failure
            await server.expect_refused("/ws/bob", 403)
        for sender, data, hearers in [
            (alice, "@bob hi", (alice, bob)),
            (alice, "@nobody hi", (alice,)),
        ]:
            await sender.send(data)
            for client in hearers:
                await client.drain("hi")
        await carol.close()
        for client in (alice, bob):
            await client.drain("carol")
        await bob.send("@carol gone?")
        await bob.drain("carol")
        await bob.close()
        await alice.drain("bob")
        # The marker is handled after bob's handler has finished, errors included.
        await alice.send("marker")
        await alice.drain("marker")
    server.expect_no_errors()
