"""Exercise 4 — rooms: joined, relayed and left messages stay inside their room.

Each check gets a fresh server. Silence is proven with markers: a later message
arriving next shows that nothing was sent in between. GET /rooms is asked again
(bounded by a deadline) until it shows a change that only the server's own
disconnect handler can make, because an emptied room has nobody left to tell. A
client opened with `reading=False` never reads, so once its buffers are full the
server's sends to it wait: that is how a check holds a broadcast up in its loop.
"""

from __future__ import annotations

import json
from contextlib import suppress

from checks._chat import Chat
from grader import Failure, LiveServer, Mismatch, check

Rooms = dict[str, list[str]]

JOIN_HELP = (
    "Everyone in the room, the newcomer included, receives the 'joined' message next; "
    "nobody in another room receives it."
)
LEFT_HELP = (
    "On WebSocketDisconnect, call manager.disconnect() first, then broadcast to the room "
    "that the client left: everyone still in that room receives it, nobody else does."
)
SAY_HELP = (
    "Everyone in the sender's room, the sender included, receives the message next. A "
    "different frame arriving first was sent where it does not belong (another room, or "
    "twice)."
)

# Clients are named `id@room` in the transcript.
chat = Chat(
    path="/ws/{room}/{id}",
    name="{id}@{room}",
    joined="Client #{id} joined",
    said="Client #{id}: {text}",
    join_help=JOIN_HELP,
    say_help=SAY_HELP,
)


def show_rooms(rooms: object) -> str:
    """Compact JSON, as FastAPI writes it, so that expected and actual line up."""
    return json.dumps(rooms, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


async def rooms_become(
    server: LiveServer, expected: Rooms, *, ordered: bool = False, help: str | None = None
) -> None:
    """GET /rooms must answer 200 with `expected`, asked again until a deadline; each
    room's ids in the order given only if `ordered` (lists_rooms judges the order, the
    other checks who is listed).

    A leaver's handler runs concurrently with the check, so the answer may lag a
    disconnect by a moment; anything but `expected` after the deadline fails.
    """

    def answer(body: str) -> object:
        try:
            rooms = json.loads(body)
        except ValueError:
            return None
        if ordered or not isinstance(rooms, dict):
            return rooms
        return {
            room: sorted(ids, key=str) if isinstance(ids, list) else ids
            for room, ids in rooms.items()
        }

    status, body, asked = await server.get_until(
        "/rooms", lambda status, body: status == 200 and answer(body) == expected
    )
    if status == 200 and answer(body) == expected:
        return
    if status != 200:
        rationale = f"GET /rooms answered HTTP {status}"
        help = (
            "GET /rooms failed inside the server (what the server said shows where): "
            "snapshot() must return a dict that maps room names to lists of client ids."
        )
    elif answer(body) is None:
        rationale = "GET /rooms did not answer JSON"
    else:
        rationale = "GET /rooms listed the wrong rooms or clients"
    raise Mismatch(
        rationale,
        f"HTTP 200 {show_rooms(expected)}",
        f"HTTP {status} {body[:300]}"
        + (f" (still, after asking {asked} times)" if asked > 1 else ""),
        help=help,
    )


@check()
async def greets_newcomer(server: LiveServer) -> None:
    """A client that connects to /ws/lobby/alice is accepted, and is told first that it joined."""
    alice = await server.connect("/ws/lobby/alice", name="alice@lobby")
    # relays_within_room judges the words: a slip there is no reason to skip every check.
    await alice.expect_like(
        "Client #alice joined",
        ["alice"],
        help="connect() must accept the connection and store it in its room before the "
        "endpoint broadcasts, so the newcomer hears about itself.",
    )


@check(depends=greets_newcomer)
async def relays_within_room(server: LiveServer) -> None:
    """In a room, every member hears each join and each message, the sender included."""
    alice = await server.connect("/ws/lobby/alice", name="alice@lobby")
    await alice.expect("Client #alice joined", help=JOIN_HELP)
    bob = await server.connect("/ws/lobby/bob", name="bob@lobby")
    await bob.expect("Client #bob joined", help=JOIN_HELP)
    await alice.expect(
        "Client #bob joined",
        help="A second client must join the same room: connect() must add to the room's "
        "connections, not replace them, and broadcast() must send to all of them.",
    )
    await chat.say(alice, "hello", alice, bob)
    await chat.say(bob, "hi alice", alice, bob)
    await chat.say(alice, 'Zoë says "héllo" 👋  ', alice, bob, help="Relay text unchanged.")


@check(depends=greets_newcomer)
async def announces_leave_to_room(server: LiveServer) -> None:
    """When a client disconnects, the rest of its room receives "Client #alice left"."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol", room="lobby")
    # alice joined first: a broadcast that trips over her closed socket never
    # reaches bob and carol.
    await alice.close()
    for member in (bob, carol):
        await member.expect("Client #alice left", help=LEFT_HELP)
    await chat.say(
        carol,
        "still here?",
        bob,
        carol,
        help="disconnect() must remove exactly the connection that closed, and keep the "
        "room while others are in it.",
    )


@check(depends=announces_leave_to_room)
async def rooms_are_isolated(server: LiveServer) -> None:
    """Clients in one room receive nothing of another room's joins, messages or leaves."""
    # carol is in the kitchen before anyone is in the lobby: a broadcast that ignores
    # the room reaches her first.
    (carol,) = await chat.join(server, "carol", room="kitchen")
    alice, bob = await chat.join(server, "alice", "bob", room="lobby")
    await chat.say(alice, "lobby talk", alice, bob)
    await bob.close()
    await alice.expect("Client #bob left", help=LEFT_HELP)
    # Had carol received any of the lobby's frames, they would arrive before this.
    await chat.say(
        carol,
        "kitchen marker",
        carol,
        help="broadcast(room, …) must send only to the connections stored in that room.",
    )
    (dave,) = await chat.join(server, "dave", room="kitchen", present=(carol,))
    await chat.say(dave, "kitchen talk", carol, dave)
    await dave.close()
    await carol.expect("Client #dave left", help=LEFT_HELP)
    # Had alice received any of the kitchen's frames, they would arrive before this.
    await chat.say(
        alice,
        "lobby marker",
        alice,
        help="broadcast(room, …) must send only to the connections stored in that room.",
    )


@check(depends=greets_newcomer)
async def same_id_in_two_rooms(server: LiveServer) -> None:
    """One id may be in two rooms through two connections; leaving one keeps the other."""
    alice_lobby, bob = await chat.join(server, "alice", "bob", room="lobby")
    (alice_kitchen,) = await chat.join(server, "alice", room="kitchen")
    await chat.say(alice_kitchen, "in the kitchen", alice_kitchen)
    await chat.say(
        alice_lobby,
        "in the lobby",
        alice_lobby,
        bob,
        help="Each connection belongs to its own room: store connections per room, so a "
        "second connection with the same id does not replace the first.",
    )
    await alice_kitchen.close()
    # The kitchen is now empty; the lobby must carry on as if nothing happened, and
    # alice@lobby must not hear that alice left the kitchen.
    await chat.say(
        bob,
        "still there, alice?",
        alice_lobby,
        bob,
        help="disconnect(room, websocket) must remove only that connection from that room.",
    )
    await chat.say(alice_lobby, "yes", alice_lobby, bob)


@check(depends=announces_leave_to_room)
async def same_id_twice_in_a_room(server: LiveServer) -> None:
    """Two connections with the same id in one room are two members; one leaving keeps the other."""
    first = await server.connect("/ws/lobby/alice", name="alice (tab 1)")
    joined = await first.expect_like("Client #alice joined", ["alice"], help=JOIN_HELP)
    second = await server.connect("/ws/lobby/alice", name="alice (tab 2)")
    for tab in (first, second):
        await tab.expect(
            joined,
            help="Key a room's members by connection, not by client id: the same id may "
            "connect twice, and both connections are members.",
        )
    (bob,) = await chat.join(server, "bob", room="lobby", present=(first, second))
    await chat.say(first, "from tab 1", first, second, bob)
    await first.close()
    for member in (second, bob):
        await member.expect("Client #alice left", help=LEFT_HELP)
    await chat.say(
        second,
        "tab 2 still here",
        second,
        bob,
        help="disconnect() must remove the connection that closed, not every connection "
        "with the same id.",
    )


@check(depends=greets_newcomer)
async def lists_rooms(server: LiveServer) -> None:
    """GET /rooms answers {} with nobody connected, then each room with its ids, sorted."""
    await rooms_become(
        server, {}, help="snapshot() must return a dict of room -> sorted list of client ids."
    )
    # Joined out of order: the listing must sort them. Seven ids, so that a set's order
    # (which varies from run to run) comes out sorted once in 5040 runs, not one in six.
    # A newcomer's first frame is its own "joined", sent once connect() has stored it.
    lobby = ["carol", "gus", "alice", "frank", "eve", "bob", "hal"]
    arrivals = [("lobby", lobby[0]), ("kitchen", "dave"), *(("lobby", i) for i in lobby[1:])]
    for room, client_id in arrivals:
        await chat.join(server, client_id, room=room)
    await rooms_become(
        server,
        {"kitchen": ["dave"], "lobby": sorted(lobby)},
        ordered=True,
        help="snapshot() maps each room to the sorted list of its clients' ids: "
        "{room: sorted(ids)}.",
    )


@check(depends=announces_leave_to_room)
async def lists_leavers_removed(server: LiveServer) -> None:
    """GET /rooms stops listing a client once it has left, and still lists the others."""
    alice, bob, carol = await chat.join(server, "alice", "bob", "carol", room="lobby")
    await rooms_become(server, {"lobby": ["alice", "bob", "carol"]})
    await bob.close()
    for member in (alice, carol):
        await member.expect("Client #bob left", help=LEFT_HELP)
    await rooms_become(
        server,
        {"lobby": ["alice", "carol"]},
        help="disconnect() must remove the connection, and with it its id, from the room.",
    )
    (bob,) = await chat.join(server, "bob", room="lobby", present=(alice, carol))
    await rooms_become(server, {"lobby": ["alice", "bob", "carol"]})


@check(depends=same_id_twice_in_a_room)
async def lists_each_id_once(server: LiveServer) -> None:
    """GET /rooms lists an id once even with two connections, until both have left."""
    first = await server.connect("/ws/lobby/alice", name="alice (tab 1)")
    joined = await first.expect_like("Client #alice joined", ["alice"], help=JOIN_HELP)
    second = await server.connect("/ws/lobby/alice", name="alice (tab 2)")
    for tab in (first, second):
        await tab.expect(joined, help=JOIN_HELP)
    (bob,) = await chat.join(server, "bob", room="lobby", present=(first, second))
    await rooms_become(
        server,
        {"lobby": ["alice", "bob"]},
        help="List each id once per room: sorted(set(ids)), not one entry per connection.",
    )
    await first.close()
    for member in (second, bob):
        await member.expect("Client #alice left", help=LEFT_HELP)
    await rooms_become(
        server,
        {"lobby": ["alice", "bob"]},
        help="alice still has a connection in the room, so she is still listed.",
    )
    await second.close()
    await bob.expect("Client #alice left", help=LEFT_HELP)
    await rooms_become(server, {"lobby": ["bob"]})


@check(depends=greets_newcomer)
async def removes_empty_rooms(server: LiveServer) -> None:
    """A room vanishes from GET /rooms when its last client leaves, and can be joined anew."""
    (alice,) = await chat.join(server, "alice", room="lobby")
    (bob,) = await chat.join(server, "bob", room="kitchen")
    await rooms_become(server, {"kitchen": ["bob"], "lobby": ["alice"]})
    # Nobody is left in the lobby to hear that alice left: ask until the listing changes.
    alice.drop()
    await rooms_become(
        server,
        {"kitchen": ["bob"]},
        help="When disconnect() removes a room's last connection, it must delete the room "
        "itself, and the 'left' broadcast to the empty room must not bring it back.",
    )
    await bob.close()
    await rooms_become(server, {})
    (carol,) = await chat.join(server, "carol", room="lobby")
    await chat.say(carol, "anyone?", carol)
    await rooms_become(server, {"lobby": ["carol"]})


# An app that lets nobody in has nothing to show: the check needs clients to get in.
@check(depends=greets_newcomer)
async def no_server_errors(server: LiveServer) -> None:
    """The server logs no unhandled exception while clients join, chat, leave and empty rooms."""
    # What is said and listed is judged by the other checks: here only a refused or
    # closed connection cuts the scene short, and whatever the server logged counts.
    with suppress(Failure):
        alice, bob = await chat.enter(server, "alice", "bob", room="lobby")
        (carol,) = await chat.enter(server, "carol", room="kitchen")
        await alice.send("hi")
        for client in (alice, bob):
            await client.drain("hi")
        await alice.close()
        await bob.drain("alice")
        await bob.close()  # the lobby's last client
        carol.drop()  # the kitchen's last client, gone without a close handshake
        # Until both rooms are gone (or a deadline): their removals have run, and the
        # "left" broadcast to each emptied room comes right after its removal.
        await server.get_until("/rooms", lambda status, body: body.strip() == "{}")
        # One more round trip lets anything still pending finish.
        (dave,) = await chat.enter(server, "dave", room="lobby")
        await dave.send("marker")
        await dave.drain("marker")
    server.expect_no_errors()
