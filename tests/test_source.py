"""What the grader reads in its own copy of a submission: where a frame was made, which
function a line is in, where a coroutine came from, and the lesson's rules no behaviour
shows (dropped tasks, secrets compared with ==)."""

from __future__ import annotations

from grader import source

BROADCAST = '''
async def endpoint(websocket, client_id):
    await manager.broadcast(f"Client {client_id} joined")
    while True:
        data = await websocket.receive_text()
        await manager.broadcast(f"Client #{client_id}: {data.strip()}")
'''.splitlines()


def test_the_template_with_the_wrong_fixed_text_is_the_one_named() -> None:
    made = source.made_by(BROADCAST, "Client alice joined", "Client #alice joined", ["alice"])
    assert made is not None
    finding, theirs, contract = made
    assert finding.line == 3 and "Client {client_id} joined" in finding.code
    assert source.shown(theirs) == "Client … joined"
    assert source.shown(contract) == "Client #… joined"


def test_a_right_template_with_wrong_values_is_not_blamed() -> None:
    # strip() changed the value, not the fixed text: the template is not the cause.
    sent = "  two  spaces  "
    got, wanted = "Client #alice: two  spaces", f"Client #alice: {sent}"
    assert source.made_by(BROADCAST, got, wanted, ["alice", sent]) is None


def test_concatenation_and_format_placeholders_are_templates_too() -> None:
    lines = ['x = "Client " + cid + " left"', 'y = "Client #{}: {}".format(a, b)']
    shapes = {source.shown(shape) for _, shape in source.templates(lines)}
    assert {"Client … left", "Client #…: …"} <= shapes


def test_the_function_around_a_line_and_the_call_that_made_a_coroutine() -> None:
    lines = '''
def disconnect(self, websocket):
    self.active.remove(websocket)
    websocket.close()

async def writer(queue):
    message = queue.get()
    print(message["text"])
'''.splitlines()
    function = source.function_at(lines, 4)
    assert function is not None and function.name == "disconnect"
    made = source.assigned_from_call(lines, 8)
    assert made is not None and made.line == 7 and made.name == "message"


def test_a_task_whose_reference_is_dropped_is_found_and_a_kept_one_is_not() -> None:
    lines = '''
async def cut_off(self, websocket):
    asyncio.create_task(self.close_slow(websocket))
    task = asyncio.create_task(self.close_slow(websocket))
    kept = asyncio.create_task(self.close_slow(websocket))
    self.closing.add(kept)
    self.writer = asyncio.create_task(self.write())
    await asyncio.gather(asyncio.create_task(self.a()), self.b())
'''.splitlines()
    assert [f.line for f in source.dropped_tasks(lines)] == [3, 4]


def test_a_secret_compared_with_equals_is_found_through_the_names_it_flows_into() -> None:
    lines = '''
def allowed(client_id, token):
    expected = TOKENS.get(client_id)
    if expected is None or token is None:
        return False
    if len(token) != len(expected):
        return False
    return token == expected

def direct(client_id, token):
    return TOKENS.get(client_id) == token

def safe(client_id, token):
    expected = TOKENS.get(client_id)
    if expected is None or expected == "":
        return False
    return secrets.compare_digest(token.encode(), expected.encode())
'''.splitlines()
    assert [f.line for f in source.compared_with_equals(lines, ["TOKENS"])] == [8, 11]


def test_a_file_that_does_not_parse_has_no_answers() -> None:
    broken = ["def f(:"]
    assert source.templates(broken) == [] and source.dropped_tasks(broken) == []
    assert source.function_at(broken, 1) is None


def test_a_frame_the_file_could_make_right_is_never_blamed_on_another_template() -> None:
    # The confirmation came first: a different message, not a typo, and the private
    # line's own template is right.
    lines = [
        'await send(target, f"Client #{client_id} (private): {text}")',
        'await send(client_id, f"You to #{target}: {text}")',
    ]
    got, wanted = "You to #alice: note to self", "Client #alice (private): note to self"
    assert source.made_by(lines, got, wanted, ["alice", "@alice note to self"]) is None


def test_the_try_around_a_line_and_what_it_catches() -> None:
    lines = [
        "async def broadcast(self, message):",
        "    try:",
        "        await self.redis.publish(CHANNEL, message)",
        "    except ValueError as exc:",
        "        logger.warning('%s', exc)",
    ]
    found = source.try_around(lines, 3)
    assert found is not None and found[0].line == 2 and found[1] == ["ValueError"]
    assert source.try_around(lines, 1) is None
