"""The check API's HTTP side (grader/web.py, LiveServer in grader/client.py), against a
real uvicorn on a real socket: requests and their typed answers, JSON expectations that
ask again until they hold, and Server-Sent Events streams read like WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from unittest.mock import ANY

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from grader.checks import Closed, Failure, Mismatch, Missing
from grader.client import LiveServer
from grader.streams import EventParser, ServerEvent
from grader.web import MAX_BODY, Broken, Response, in_any_order

items: list[Any] = []
app = FastAPI()


@app.get("/items")
async def list_items() -> list[Any]:
    return items


@app.post("/items", status_code=201)
async def add(request: Request) -> Any:
    item = await request.json()
    items.append(item)
    return item


@app.post("/later")
async def later(request: Request) -> dict[str, str]:
    item = await request.json()
    asyncio.get_running_loop().call_later(0.2, items.append, item)
    return {"status": "queued"}


@app.get("/boom")
async def boom() -> None:
    raise KeyError("milk")


@app.get("/plain")
async def plain() -> PlainTextResponse:
    return PlainTextResponse("not json", headers={"x-kind": "plain"})


@app.get("/events")
async def events(then: str = "end") -> StreamingResponse:
    async def stream() -> AsyncIterator[str]:
        yield "data: one\n\n"
        yield ": a keep-alive comment\r\n\r\n"
        yield "event: tick\r\ndata: two\r\n"
        yield "data: lines\r\n\r\n"
        yield 'data: {"n": 3}\n\n'
        if then == "raise":
            raise RuntimeError("the stream broke")
        if then == "wait":
            await asyncio.sleep(3600)

    return StreamingResponse(stream(), media_type="text/event-stream")


class App:
    """What LiveServer reads of a running server: its address, and no witness."""

    def __init__(self, port: int) -> None:
        self.port = port

    def url(self, path: str, scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def events(self) -> list[dict[str, Any]]:
        return []


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(5)


def run(port: int, check: Callable[[LiveServer], Awaitable[Any]]) -> LiveServer:
    """Run `check` on a LiveServer of the app; the server, for its transcript."""
    items.clear()
    server = LiveServer(App(port))  # type: ignore[arg-type]
    asyncio.run(check(server))
    return server


def test_url_gives_either_scheme(port: int) -> None:
    server = LiveServer(App(port))  # type: ignore[arg-type]
    assert server.url("/ws/a") == f"ws://127.0.0.1:{port}/ws/a"
    assert server.url("/items", "http") == f"http://127.0.0.1:{port}/items"


def test_a_request_sends_json_and_gets_a_typed_answer(port: int) -> None:
    answers: list[Response] = []

    async def check(server: LiveServer) -> None:
        answers.append(await server.request("POST", "/items", json={"text": "milk"}))
        answers.append(await server.request("get", "/plain"))
        assert await server.get("/items") == (200, '[{"text":"milk"}]')

    server = run(port, check)
    created, text = answers
    assert (created.status, created.json()) == (201, {"text": "milk"})
    assert created.headers["content-type"] == "application/json"
    assert text.headers["x-kind"] == "plain" and text.text == "not json"
    with pytest.raises(Mismatch) as failed:
        text.json()
    assert failed.value.rationale == "GET /plain should have been answered with JSON"
    assert failed.value.actual == "HTTP 200 'not json'"
    assert server.transcript == [
        'POST /items {"text": "milk"}',
        """POST /items answered 201 '{"text":"milk"}'""",
        "GET /plain",
        "GET /plain answered 200 'not json'",
        "GET /items",
        """GET /items answered 200 '[{"text":"milk"}]'""",
    ]


def test_expect_json_asks_a_get_again_until_it_holds(port: int) -> None:
    async def check(server: LiveServer) -> None:
        await server.expect_json("POST", "/later", json="milk", equals={"status": ANY})
        await server.expect_json("GET", "/items", equals=["milk"])

    server = run(port, check)
    assert server.transcript[0] == 'POST /later "milk"'
    assert server.transcript[2].startswith("GET /items was asked ")
    assert server.transcript[2].endswith(" times until it answered as expected")
    assert server.transcript[-1] == "GET /items answered 200 '[\"milk\"]'"


def test_expect_json_fails_with_what_was_sent_expected_and_last_arrived(port: int) -> None:
    async def check(server: LiveServer) -> None:
        await server.request("POST", "/items", json="milk")
        await server.expect_json("GET", "/items", equals=["eggs"], within=0.1, help="Add it.")

    with pytest.raises(Mismatch) as failed:
        run(port, check)
    mismatch = failed.value
    assert mismatch.rationale == 'GET /items should have been answered with HTTP 200 ["eggs"]'
    assert mismatch.expected == 'HTTP 200 ["eggs"]' and mismatch.help == "Add it."
    assert mismatch.actual is not None
    assert mismatch.actual.startswith("HTTP 200 '[\"milk\"]' (still, after asking ")


def test_a_request_that_changes_state_is_never_asked_twice(port: int) -> None:
    async def check(server: LiveServer) -> None:
        await server.expect_json("POST", "/items", json=1, equals=2, within=1)

    with pytest.raises(Mismatch) as failed:
        run(port, check)
    assert failed.value.rationale == "POST /items 1 was answered with HTTP 201"
    assert failed.value.actual == "HTTP 201 '1'"  # once: no "(still, after asking …)"
    assert items == [1]


def test_any_order_compares_every_list_as_a_set(port: int) -> None:
    assert in_any_order({"a": [3, [2, 1]]}) == in_any_order({"a": [[1, 2], 3]})

    async def check(server: LiveServer) -> None:
        for item in ("b", "a"):
            await server.request("POST", "/items", json=item)
        assert await server.expect_json("GET", "/items", equals=["a", "b"], any_order=True) == [
            "b",
            "a",
        ]

    run(port, check)


def test_an_error_answer_is_a_status_and_a_status_can_be_expected(port: int) -> None:
    answers: list[Response] = []

    async def check(server: LiveServer) -> None:
        answers.append(await server.request("GET", "/boom"))
        await server.expect_status("DELETE", "/items", 405)
        await server.expect_status("GET", "/nowhere", 200, within=0.1)

    with pytest.raises(Mismatch) as failed:
        run(port, check)
    assert answers[0].status == 500 and answers[0].raised == ""  # no witness here
    assert failed.value.rationale == "GET /nowhere was answered with HTTP 404"
    assert failed.value.expected == "HTTP 200"


def test_a_server_that_never_answers_is_missing_in_time() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()

        async def check(server: LiveServer) -> None:
            await server.request("GET", "/items", within=0.2)

        with pytest.raises(Missing) as failed:
            run(silent.getsockname()[1], check)
    assert failed.value.rationale == "GET /items should have been answered"
    assert failed.value.actual == "nothing within 0.2 s"


def test_an_event_stream_is_read_like_a_websocket_client(port: int) -> None:
    got: list[ServerEvent] = []

    async def check(server: LiveServer) -> None:
        listener = await server.events("/events?then=wait")
        got.append(await listener.expect("one"))
        got.append(await listener.expect("two\nlines", event="tick"))
        assert await listener.expect_json({"n": 3}) == {"n": 3}
        assert await listener.poll(0.1) is None
        await listener.close()

    server = run(port, check)
    assert got == [ServerEvent("one"), ServerEvent("two\nlines", "tick")]
    assert server.transcript == [
        "listener opened the event stream at /events?then=wait",
        "listener received 'one'",
        "listener received 'two\\nlines' (event: tick)",
        """listener received '{"n": 3}'""",
        "listener closed the event stream",
    ]


def test_an_event_that_differs_is_a_mismatch_with_both(port: int) -> None:
    async def check(server: LiveServer) -> None:
        listener = await server.events("/events", "ada")
        await listener.expect("uno", help="Say it in Italian.")

    with pytest.raises(Mismatch) as failed:
        run(port, check)
    assert failed.value.rationale == "ada should have received 'uno' next"
    assert failed.value.frames == ("uno", "one") and failed.value.help == "Say it in Italian."


@pytest.mark.parametrize(("then", "how"), [("end", "ended the stream"), ("raise", "broke")])
def test_a_stream_the_server_ends_is_closed(port: int, then: str, how: str) -> None:
    async def check(server: LiveServer) -> None:
        listener = await server.events(f"/events?then={then}")
        for _ in range(3):
            await listener.receive()
        await listener.receive()

    with pytest.raises(Closed) as failed:
        run(port, check)
    assert failed.value.rationale.startswith(f"listener waited for an event, but the server {how}")


@pytest.mark.parametrize(
    ("path", "actual"), [("/plain", "HTTP 200 'not json'"), ("/nowhere", "HTTP 404")]
)
def test_a_stream_that_is_not_one_is_refused_with_what_came(
    port: int, path: str, actual: str
) -> None:
    async def check(server: LiveServer) -> None:
        await server.events(path)

    with pytest.raises(Failure) as failed:
        run(port, check)
    assert failed.value.expected == "HTTP 200 text/event-stream"
    assert failed.value.actual is not None and failed.value.actual.startswith(actual)
    assert failed.value.path == path


def test_the_event_stream_format_is_parsed_as_it_arrives() -> None:
    parser = EventParser()
    assert parser.feed(b"data: a\r") == []  # "\r" may be half of "\r\n"
    assert parser.feed(b"\n\r\n: comment\n\nid: 7\ndata:b\ndata\n\n") == [
        ServerEvent("a"),
        ServerEvent("b\n", id="7"),
    ]
    assert parser.feed("data: é".encode()[:-1]) == []  # half a character
    assert parser.feed("é\n\n".encode()[-3:]) == [ServerEvent("é", id="7")]
    assert parser.feed(b"event: x\n\n") == []  # no data: no event
    assert json.loads(parser.feed(b'data: {"a": 1}\n\n')[0].data) == {"a": 1}


def test_an_event_is_held_to_a_megabyte_whatever_the_server_sends() -> None:
    parser = EventParser()
    parser.feed(b"data: " + b"x" * (MAX_BODY // 2) + b"\n")
    with pytest.raises(Broken, match="an event of more than 1 MiB"):
        parser.feed(b"data: " + b"x" * (MAX_BODY // 2) + b"\n")
