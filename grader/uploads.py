"""The names real uploads come with: what an operating system leaves beside them, what
a learning platform's bulk download calls them, and the file names that are almost an
exercise's. Pure functions of names: nothing here reads a file.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# What an operating system leaves in a folder it shows or zips: nobody's submission.
JUNK = {".ds_store", "thumbs.db", "desktop.ini", "__macosx"}
# ... and what tools leave. Any other name, hidden or not, is somebody's: it gets a row.
TOOLS = {".git", ".svn", ".hg", ".idea", ".vscode", ".ipynb_checkpoints", ".venv", "venv"}


def is_junk(name: str) -> bool:
    """Whether an entry of a submissions folder is litter: the system files above,
    AppleDouble `._*` files, and version control and editor folders."""
    folded = name.casefold()
    return name.startswith("._") or folded in JUNK or folded in TOOLS


def nfc(name: str) -> str:
    """`name` composed: `José` typed on a Mac (e + U+0301) and elsewhere (é) are one."""
    return unicodedata.normalize("NFC", name)


@dataclass(frozen=True)
class Upload:
    """An entry named by a learning platform's bulk download."""

    person: str
    """Who handed it in, as the platform names them."""
    key: str
    """What every entry of one person shares (their name and id)."""
    original: str
    """The file's name as handed in; "" for a folder holding the files."""
    platform: str


# Canvas: <name>_<user id>_<submission id>_<file>, or <name>_LATE_<user id>_…; the name
# is the student's sortable name, lower case and without spaces or punctuation.
_CANVAS = re.compile(r"(?P<name>[^_]+)_(?:LATE_)?(?P<id>\d+)_\d+_(?P<file>.+)", re.S | re.I)
# Moodle: a folder <Full Name>_<id>_assignsubmission_file_ holding the files, or (with
# "download submissions in folders" off) <Full Name>_<id>_assignsubmission_file_<file>.
_MOODLE = re.compile(r"(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_?(?P<file>.*)", re.S)


def upload(name: str, folder: bool) -> Upload | None:
    """Whose entry `name` is and what it was called, if a platform named it."""
    moodle = _MOODLE.fullmatch(name)
    if moodle and (moodle["file"] == "") == folder:
        return _upload(moodle, "Moodle")
    canvas = _CANVAS.fullmatch(name)
    if canvas and not folder:
        return _upload(canvas, "Canvas")
    return None


def _upload(match: re.Match[str], platform: str) -> Upload:
    person = nfc(match["name"])
    return Upload(person, f"{platform}:{person}_{match['id']}", match["file"], platform)


# What a browser or a file manager makes of a second copy: "hello (1).py",
# "hello-1.py" (also Canvas's own name for a file handed in again), "hello
# copy.py" and "hello copy 2.py" (macOS), "hello - Copy (2).py" (Windows).
_NUMBERED = re.compile(r"(?P<stem>.+?)-\d+", re.S)
_COPY = re.compile(r"(?P<stem>.+?)(?: \(\d+\)| copy(?: \d+)?| - copy(?: \(\d+\))?)", re.S | re.I)


def near_miss(name: str, wanted: str) -> str | None:
    """How `name` misses `wanted`, if it almost is it: "case" (Hello.py),
    "numbered" (hello-1.py) or "copy" (hello (1).py, hello copy.py)."""
    if name == wanted or not name.casefold().endswith(".py"):
        return None
    if name.casefold() == wanted.casefold():
        return "case"
    stem, target = name[:-3], wanted[:-3].casefold()
    for kind, pattern in (("numbered", _NUMBERED), ("copy", _COPY)):
        match = pattern.fullmatch(stem)
        if match and match["stem"].casefold() == target:
            return kind
    return None


def named_for(name: str, modules: dict[str, str]) -> str | None:
    """The exercise (id, of `modules`: id → module) whose module `name` names as a word
    of its own: `ada_direct.py`, `direct (1).py`, `direct.py` all name `direct`."""
    words = set(re.findall(r"[a-z0-9]+", name.casefold().removesuffix(".py")))
    named = [i for i, module in modules.items() if module.casefold() in words]
    return named[0] if len(named) == 1 else None
