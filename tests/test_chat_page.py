"""`make serve`'s chat page, in a real headless Chromium against the real servers."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from grader.services import free_port
from tests.conftest import ROOT, settles_without_leftovers

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium: `make test` installs Debian's chromium when run as root"
)
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def wait_until_served(url: str, proc: subprocess.Popen[bytes], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while True:  # bounded: waits for the server to answer, not for a clock
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """`grader serve` for the exercise in request.param; yields the chat page URLs."""
    exercise, processes = request.param
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "grader",
        "serve",
        "-e",
        exercise,
        "--submission",
        "solutions",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin"},
    )
    urls = [f"http://127.0.0.1:{port + n}/" for n in range(processes)]
    try:
        for url in urls:
            wait_until_served(url, proc)
        yield urls
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert settles_without_leftovers()


@pytest.mark.parametrize(
    "serve", [("broadcast", 1), ("scaleout", 2)], indirect=True, ids=["broadcast", "scaleout"]
)
def test_two_tabs_join_chat_and_one_leaves(serve: list[str]) -> None:
    """With scaleout, the two tabs talk to two processes, through Redis."""
    from playwright.sync_api import expect, sync_playwright

    alice_url, bob_url = serve[0], serve[-1]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=BROWSER, args=FLAGS)
        alice, bob = browser.new_page(), browser.new_page()
        for page, name, url in ((alice, "alice", alice_url), (bob, "bob", bob_url)):
            page.goto(url)
            page.fill("#field-client_id", name)
            page.click("#connect")
            expect(page.locator("#log li").last).to_have_text(f"Client #{name} joined")
        expect(alice.locator("#log li")).to_have_text(
            ["Client #alice joined", "Client #bob joined"]
        )
        alice.fill("#message", "hello, bob")
        alice.press("#message", "Enter")
        for page in (alice, bob):
            expect(page.locator("#log li").last).to_have_text("Client #alice: hello, bob")
        bob.click("#disconnect")
        expect(alice.locator("#log li").last).to_have_text("Client #bob left")
        expect(bob.locator("#log li").last).to_contain_text("connection closed")
        browser.close()
