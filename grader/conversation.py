"""A chat's conventions, and the steps every chat check is made of: joining, saying,
and the marker that proves nothing else was sent.

A check file states its lesson's formats once:

    chat = Chat(path="/ws/{id}", joined="Client #{id} joined", said="Client #{id}: {text}")

and its checks read as scripts: `alice, bob = await chat.join(server, "alice", "bob")`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from grader.client import Client, LiveServer


@dataclass(frozen=True)
class Chat:
    """Where clients connect, and how the server announces arrivals and relays messages.

    `path` and `name` are formatted with the client's `id` and whatever else a join is
    given (`room="lobby"`); `path` may instead be a function of those. `name` is what
    the transcript calls the client. The helps are the advice where no step gives its
    own: when an arrival is not announced as it should be, when a handshake is refused,
    when a message is not relayed as it should be.
    """

    path: str | Callable[..., str]
    joined: str
    said: str
    name: str = "{id}"
    join_help: str | None = None
    refused_help: str | None = None
    say_help: str | None = None

    async def join(
        self,
        server: LiveServer,
        *ids: str,
        present: Sequence[Client] = (),
        stalled: str = "",
        help: str | None = None,
        refused_help: str | None = None,
        **fields: str,
    ) -> list[Client]:
        """Connect clients one by one; each newcomer and everyone `present` (and every
        earlier newcomer) hear it join, next.

        `stalled` names an id whose client never reads (and so is not asked to hear
        anything); `refused_help` is the advice if the endpoint refuses a newcomer.
        """
        members = list(present)
        joined: list[Client] = []
        never_reads: Client | None = None
        for client_id in ids:
            path = (
                self.path(client_id, **fields)
                if callable(self.path)
                else self.path.format(id=client_id, **fields)
            )
            client = await server.connect(
                path,
                self.name.format(id=client_id, **fields),
                id=client_id,
                reading=client_id != stalled,
                help=refused_help or self.refused_help,
            )
            members.append(client)
            if client_id == stalled:
                never_reads = client
            for member in members:
                if member is not never_reads:
                    await member.expect(
                        self.joined.format(id=client_id, **fields), help=help or self.join_help
                    )
            joined.append(client)
        return joined

    async def say(
        self,
        sender: Client,
        text: str,
        *hearers: Client,
        help: str | None = None,
        allowing: Collection[str] = (),
    ) -> None:
        """`sender` sends `text`; each of `hearers` receives it, relayed, as its next frame."""
        await sender.send(text)
        for hearer in hearers:
            await hearer.expect(
                self.said.format(id=sender.id, text=text),
                help=help or self.say_help,
                allowing=allowing,
            )

    async def marker(self, sender: Client, *hearers: Client, help: str | None = None) -> None:
        """`sender` says "marker", and it must be the very next frame each of `hearers`
        receives: had the server sent them anything else meanwhile, that would come first."""
        await self.say(sender, "marker", *hearers, help=help)
