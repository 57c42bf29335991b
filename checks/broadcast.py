"""Exercise 1 — broadcast: joined, relayed and left messages reach every client.

Each check gets a fresh server. Silence is proven with markers: a later message
arriving next shows that nothing was sent in between.
"""

from contextlib import suppress

from checks._chat import Chat
from grader import Failure, LiveServer, Submission, check

chat = Chat(path="/ws/{id}", joined="Client #{id} joined", said="Client #{id}: {text}")

SENDER_TOO = (
    "The others received it, but not the client that sent it: broadcast() sends to every "
    "connection, the sender's included."
)


@check()
async def greets_newcomer(server: LiveServer) -> None:
    """A client that connects to /ws/alice is accepted, and is told first that it joined."""
    alice = await server.connect("/ws/alice")
    # Its words are judged next: a slip there is no reason to skip every other check.
    await alice.expect_like(
        "Client #alice joined",
        ["alice"],
        help="connect() must accept and store the connection before the endpoint "
        "broadcasts, so the newcomer hears about itself.",
    )


@check(depends=greets_newcomer)
async def announces_join_to_everyone(server: LiveServer) -> None:
    """Everyone connected, the newcomer included, receives "Client #bob joined" when bob
    connects."""
    alice = await server.connect("/ws/alice")
    await alice.expect("Client #alice joined")
    bob = await server.connect("/ws/bob")
    await bob.expect("Client #bob joined")
    await alice.expect(
        "Client #bob joined",
        help="broadcast() must send to every stored connection, not only the newest.",
    )


@check(depends=greets_newcomer)
async def relays_to_everyone(server: LiveServer) -> None:
    """A message is relayed as "Client #alice: hello" to every client, the sender included."""
    alice, bob = await chat.join(server, "alice", "bob")
    # The others first: if they have it and the sender has not, the sender was left out.
    await alice.send("hello")
    await bob.expect("Client #alice: hello")
    await alice.expect("Client #alice: hello", help=SENDER_TOO)
    await bob.send("hi alice")
    await alice.expect("Client #bob: hi alice")
    await bob.expect("Client #bob: hi alice", help=SENDER_TOO)


@check(depends=relays_to_everyone)
async def relays_verbatim(server: LiveServer) -> None:
    """Messages are relayed exactly as sent: spaces, quotes, unicode and long text intact."""
    alice, bob = await chat.join(server, "alice", "bob")
    for text in ["  two  spaces  ", 'Zoë says "héllo" 👋', "tab\there", "x" * 3000]:
        await chat.say(
            alice, text, alice, bob, help="Relay the text as received: no strip(), no changes."
        )


@check(depends=greets_newcomer)
async def accepts_before_storing(submission: Submission) -> None:
    """connect() stores a connection only once its accept() has finished, so no broadcast
    can reach a connection that cannot carry messages yet."""
    submission.expect_accepted_before_stored(
        help="Until `await websocket.accept()` has finished, the connection cannot carry "
        "messages, and a broadcast that finds it stored meanwhile fails. Accept first, "
        "then store it."
    )


@check(depends=greets_newcomer)
async def announces_leave(server: LiveServer) -> None:
    """When a client disconnects, every remaining client receives "Client #alice left"."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    # alice connected first, so a broadcast that trips over her closed socket
    # never reaches bob and carol.
    await alice.close()
    for client in (bob, carol):
        await client.expect(
            "Client #alice left",
            help="On WebSocketDisconnect, call manager.disconnect() first, then broadcast "
            "that the client left.",
        )


@check(depends=announces_leave)
async def keeps_serving_after_leave(server: LiveServer) -> None:
    """After a client leaves, the others keep chatting and newcomers can join."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    await bob.close()
    for client in (alice, carol):
        await client.expect("Client #bob left")
    await carol.send("still here?")
    await alice.expect(
        "Client #carol: still here?",
        help="disconnect() must remove exactly the connection that closed.",
    )
    await carol.expect("Client #carol: still here?", help=SENDER_TOO)
    (dave,) = await chat.join(server, "dave", present=(alice, carol))
    await alice.close()
    for client in (carol, dave):
        await client.expect("Client #alice left")
    await chat.say(dave, "just us", carol, dave)


@check(depends=announces_leave)
async def sends_nothing_else(server: LiveServer) -> None:
    """Nothing else is sent: no duplicates, no extra frames, only text frames."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    await chat.say(bob, "one", alice, bob, carol)
    await carol.close()
    for client in (alice, bob):
        await client.expect("Client #carol left")
    await chat.marker(
        alice, alice, bob, help="Each event is broadcast exactly once, as one text frame."
    )


# An app that lets nobody in has nothing to show: the check needs clients to get in.
@check(depends=greets_newcomer)
async def no_server_errors(server: LiveServer) -> None:
    """The server logs no unhandled exception while clients join, chat and leave."""
    # What is said is judged by the other checks: here only a refused or closed
    # connection cuts the scene short, and whatever the server logged until then counts.
    with suppress(Failure):
        alice, bob, carol = await chat.enter(server, "alice", "bob", "carol")
        await carol.send("bye")
        for client in (alice, bob, carol):
            await client.drain("bye")
        await carol.close()
        for client in (alice, bob):
            await client.drain("carol")
        await bob.close()
        await alice.drain("bob")
        # The marker is handled after bob's handler has finished, errors included.
        await alice.send("marker")
        await alice.drain("marker")
    server.expect_no_errors()
