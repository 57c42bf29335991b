"""The second course's checks: an HTTP API with JSON, and a Server-Sent Events stream."""

from grader import LiveServer, check


@check()
async def starts_empty(server: LiveServer) -> None:
    """GET /counters answers {} before anything is counted."""
    await server.expect_json("GET", "/counters", equals={})


@check(depends=starts_empty)
async def counts_up(server: LiveServer) -> None:
    """POST /counters/apples with {"by": 2}, then {"by": 3}, answers the new value each time,
    and GET /counters lists it."""
    await server.expect_json(
        "POST",
        "/counters/apples",
        json={"by": 2},
        equals={"name": "apples", "value": 2},
        help="A counter no one has counted yet starts at 0.",
    )
    await server.expect_json(
        "POST", "/counters/apples", json={"by": 3}, equals={"name": "apples", "value": 5}
    )
    await server.expect_json("GET", "/counters", equals={"apples": 5})


@check(depends=counts_up)
async def forgets(server: LiveServer) -> None:
    """DELETE /counters/apples answers 204 and removes it; a counter that does not exist
    answers 404."""
    await server.expect_json("POST", "/counters/apples", json={"by": 1})
    await server.expect_status("DELETE", "/counters/apples", 204)
    await server.expect_json("GET", "/counters", equals={})
    await server.expect_status(
        "DELETE", "/counters/pears", 404, help="raise HTTPException(status_code=404)."
    )


@check(depends=counts_up)
async def streams_changes(server: LiveServer) -> None:
    """A listener of /counters/apples/events hears the value now, then every new value."""
    listener = await server.events("/counters/apples/events")
    await listener.expect_json({"value": 0}, help="Send the counter's value first.")
    await server.request("POST", "/counters/apples", json={"by": 2})
    await listener.expect_json({"value": 2})
    await server.request("POST", "/counters/pears", json={"by": 7})  # another counter's
    await server.request("POST", "/counters/apples", json={"by": 1})
    await listener.expect_json({"value": 3}, help="A listener hears only its own counter.")


@check(depends=streams_changes)
async def streams_to_every_listener(server: LiveServer) -> None:
    """Two listeners of the same counter both hear each new value."""
    first = await server.events("/counters/apples/events", "first")
    second = await server.events("/counters/apples/events", "second")
    for listener in (first, second):
        await listener.expect_json({"value": 0})
    await first.close()
    await server.request("POST", "/counters/apples", json={"by": 4})
    await second.expect_json(
        {"value": 4}, help="A listener that left must not stop the others hearing."
    )
    server.expect_no_errors()
