"""`make serve`'s chat page, in a real headless Chromium against the real server."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served() -> Iterator[str]:
    port, probe = free_port(), uuid.uuid4().hex
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader",
            "serve",
            "-e",
            "broadcast",
            "--submission",
            "solutions",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "KIT_TEST_PROBE": probe},
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:  # wait for the server to answer, bounded
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
            time.sleep(0.1)
    yield url
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    assert settles_without_leftovers("KIT_TEST_PROBE", probe)


def test_two_tabs_join_chat_and_one_leaves(served: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=BROWSER, args=FLAGS)
        alice, bob = browser.new_page(), browser.new_page()
        for page, name in ((alice, "alice"), (bob, "bob")):
            page.goto(served)
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
