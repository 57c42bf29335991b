"""The chat course's own part of the grader, named in the manifest's `extensions`.

The engine knows no lesson; this package teaches it this one: the formats and steps of
a chat (`Chat`), the broker of the scale-out exercise (`RedisServer`, the service
"redis", and the `redis_server` fixture), the page `make serve` shows, and the advice
the diagnosis gives in this lesson's words (`advice`).
"""

from pathlib import Path

from checks._chat import advice as advice
from checks._chat.conversation import Chat, Stall
from checks._chat.redis import RedisServer, redis_server
from grader import devserver

devserver.use_page(Path(__file__).with_name("page.html"))

__all__ = ["Chat", "RedisServer", "Stall", "advice", "redis_server"]
