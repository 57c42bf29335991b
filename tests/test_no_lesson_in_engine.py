"""The engine knows no lesson: a course is folders, a manifest and its own extensions.

Every word of the chat course (its formats, its methods, its broker, its page) lives in
checks/_chat/; grader/ speaks of apps, routes, connections and clients only. A second
course inherits none of the first one's advice.
"""

from __future__ import annotations

import re

from tests.conftest import ROOT

# The chat course's own words. Generic ones ("connection", "client", "message", "send")
# and the framework's (WebSocketDisconnect, hmac.compare_digest) are the engine's too.
LESSON_WORDS = re.compile(
    r"\b(chat\w*|redis\w*|broadcast\w*|rooms?|tokens?|send_personal"
    r"|active_connections|connectionmanager|pub/?sub)\b|\bdisconnect\(\)|Client #",
    re.IGNORECASE,
)


def test_no_file_of_the_engine_mentions_a_lesson_word() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "grader").rglob("*"))
        if path.is_file() and path.suffix in {".py", ".html", ".j2", ".css", ".js", ".txt"}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if LESSON_WORDS.search(line)
    ]
    assert not found, "the engine speaks of a lesson:\n" + "\n".join(found)
