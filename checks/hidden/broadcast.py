"""Exercise 1 — hidden checks: graded by the instructor, left out of the student edition."""

from grader import LiveServer, check


@check(hidden=True)
async def announces_ids_as_given(server: LiveServer) -> None:
    """Client ids are announced exactly as given in the path, spaces and accents included."""
    for client_id, path in [
        ("Zoë", "/ws/Zo%C3%AB"),
        ("Bob Smith", "/ws/Bob%20Smith"),
        ("x-42", "/ws/x-42"),
    ]:
        client = await server.connect(path, name=client_id)
        await client.expect(
            f"Client #{client_id} joined",
            help="Take the id from the path parameter (`client_id: str`): FastAPI decodes it.",
        )
        await client.close()
