"""The fake course's checks: one to build on, one that builds on it, one with a tight bound."""

from grader import LiveServer, check


@check()
async def accepts(server: LiveServer) -> None:
    """A client that connects to /ws/alice is accepted."""
    await server.connect("/ws/alice")


@check(depends=accepts)
async def echoes(server: LiveServer) -> None:
    """A message comes back to its sender exactly as sent."""
    alice = await server.connect("/ws/alice")
    await alice.send("hello")
    await alice.expect("hello", help="Send back the text you received.")


# Its own bound (1 s) is shorter than the wait for the reply: a server that never
# answers makes it time out, not fail.
@check(timeout=1.0)
async def answers_promptly(server: LiveServer) -> None:
    """A message is answered within a second."""
    bob = await server.connect("/ws/bob")
    await bob.send("ping")
    await bob.receive(within=30)
