"""Exercise 1 — broadcast: joined, relayed and left messages reach every client.

Each check gets a fresh server. Silence is proven with markers: a later message
arriving next shows that nothing was sent in between.
"""

from grader import Chat, LiveServer, Submission, check

chat = Chat(path="/ws/{id}", joined="Client #{id} joined", said="Client #{id}: {text}")

SENDER_TOO = (
    "The others received it, but not the client that sent it: broadcast() sends to every "
    "connection, the sender's included."
)


@check()
async def greets_newcomer(server: LiveServer) -> None:
    """A client that connects to /ws/alice is accepted and receives "Client #alice joined"."""
    alice = await server.connect("/ws/alice")
    await alice.expect(
        "Client #alice joined",
        help="connect() must accept and store the connection before the endpoint "
        "broadcasts, so the newcomer hears about itself.",
    )


@check(depends=greets_newcomer)
async def announces_join_to_everyone(server: LiveServer) -> None:
    """Everyone already connected receives "Client #bob joined" when bob connects."""
    alice = await server.connect("/ws/alice")
    await alice.expect("Client #alice joined")
    bob = await server.connect("/ws/bob")
    await bob.expect("Client #bob joined")
    await alice.expect(
        "Client #bob joined",
        help="broadcast() must send to every stored connection, not only the newest.",
    )


@check(depends=announces_join_to_everyone)
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


@check(depends=announces_join_to_everyone)
async def accepts_before_storing(submission: Submission) -> None:
    """connect() stores a connection only once its accept() has finished, so no broadcast
    can reach a connection that cannot carry messages yet."""
    submission.expect_accepted_before_stored()


@check(depends=announces_join_to_everyone)
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


@check(depends=announces_leave)
async def no_server_errors(server: LiveServer) -> None:
    """The server logs no unhandled exception while clients join, chat and leave."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol")
    await chat.say(carol, "bye", alice, bob, carol)
    await carol.close()
    for client in (alice, bob):
        await client.expect("Client #carol left")
    await bob.close()
    await alice.expect("Client #bob left")
    # The marker is handled after bob's handler has finished, errors included.
    await chat.marker(alice, alice)
    server.expect_no_errors()
