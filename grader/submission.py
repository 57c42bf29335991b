"""Find the student's file for an exercise from what the command line names.

A submission is either a folder (the file is looked up by its name in the manifest,
at the folder's top or, if it is not there, alone anywhere below: a whole project, a
zipped folder, a repository) or one .py file standing for one exercise's file.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader import untrusted
from grader.errors import UsageError
from grader.manifest import Exercise, Kit

# Folders no student means to hand in: where a file of the same name is not theirs.
# __MACOSX/ is the Finder's copy of the zipped folder (resource forks under the same
# names); a virtual environment is also known by its pyvenv.cfg, whatever its name.
PASSED_OVER = {
    ".git",
    "__pycache__",
    ".venv",
    "venv",
    "env",
    "node_modules",
    "site-packages",
    "dist-packages",
    "__MACOSX",
}
LOOK_AT_MOST = 5000  # entries of a folder tree, however deep or wide it is
MOST_BYTES = 1 << 20  # a submission's file: far more than any honest answer needs


@dataclass(frozen=True)
class Found:
    """Where an exercise's file is (or would be, at the top), and why it cannot be
    graded, if it cannot (several candidates, a link out of the submission)."""

    path: Path
    problem: str | None = None


def resolve(
    kit: Kit, exercise_id: str | None, submission: Path | None
) -> list[tuple[Exercise, Found]]:
    """The exercises to grade, each with the file that stands for it."""
    if submission is None:
        return [(e, Found(kit.starter(e))) for e in kit.select(exercise_id)]
    if not os.path.lexists(submission):  # a link to nowhere is there: refused when read
        raise UsageError(f"no such file or folder: {submission}")
    if submission.is_dir():
        return [(e, locate(submission, e.file)) for e in kit.select(exercise_id)]
    if submission.suffix != ".py":
        raise UsageError(
            f"{submission} is not a .py file; give a .py file or a folder like starter/"
        )
    if exercise_id:
        return [(kit.get(exercise_id), Found(submission))]
    for exercise in kit.exercises:
        if exercise.file == submission.name:
            return [(exercise, Found(submission))]
    raise UsageError(f"which exercise is {submission.name} for? add EX=<id> (or --exercise <id>)")


def locate(folder: Path, name: str) -> Found:
    """The file `name` in a submission `folder`: at its top, or the only one below."""
    top = folder / name
    if _there(top):
        return checked(top, folder)
    matches = [path for path in files(folder) if path.name == name]
    if len(matches) == 1:
        return checked(matches[0], folder)
    if matches:
        shown = ", ".join(untrusted.escape_name(str(m.relative_to(folder))) for m in matches[:4])
        more = " …" if len(matches) > 4 else ""
        return Found(top, f"{len(matches)} files named {name} ({shown}{more}): hand in one")
    return Found(top)  # missing: the grader says so, and what the folder holds


def _there(path: Path) -> bool:
    """Whether something other than a folder is at `path` (a link, a fifo… are there, to
    be refused by name; a folder named like the file is looked past)."""
    try:
        return not stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def checked(path: Path, folder: Path) -> Found:
    """`path`, found in `folder`, or why a link there is not followed."""
    if path.is_symlink():
        # realpath, not resolve: a link to itself must be refused, not raise.
        inside = Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
        where = "a symbolic link" if inside else "a link pointing outside the submission"
        return Found(path, f"not gradable: {path.name} is {where} (not followed)")
    return Found(path)


@dataclass(frozen=True)
class Contents:
    """A submission's file as read once, safely: its bytes, or why it is not read.

    `missing` is a file that is not there (the grader says what the folder holds
    instead); `problem` one that is there but is no file to grade.
    """

    data: bytes = b""
    problem: str | None = None
    missing: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.missing


# What a path that is not a regular file is, in words.
_KINDS = (
    (stat.S_ISLNK, "a symbolic link (not followed)"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def read(path: Path) -> Contents:
    """The bytes of a submission's file, which is data until proven a regular file.

    Every reader of a student's file (the copy graded, the starter comparison, the
    fingerprint, `make compare`) reads it here, once: the file itself is never
    followed if it is a link (O_NOFOLLOW, so a link put there after the check is
    refused too), and what is not a regular file of at most MOST_BYTES is refused
    before a byte is read (a fifo would block, a device or a sparse 2 GiB file would
    fill memory or the disk). Never raises.
    """
    name = path.name
    try:
        info = path.lstat()
    except FileNotFoundError:
        return Contents(missing=True)
    except OSError as exc:
        return Contents(problem=_unreadable(name, exc))
    refused = _refusal(name, info)
    if refused:
        return Contents(problem=refused)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return Contents(missing=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link since lstat
            return Contents(problem=f"not gradable: {name} is a symbolic link (not followed)")
        return Contents(problem=_unreadable(name, exc))
    try:
        refused = _refusal(name, os.fstat(fd))  # what was opened, not what was looked at
        if refused:
            return Contents(problem=refused)
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(MOST_BYTES + 1)  # grown since fstat: still bounded
    except OSError as exc:
        return Contents(problem=_unreadable(name, exc))
    finally:
        os.close(fd)
    if len(data) > MOST_BYTES:
        return Contents(problem=_too_big(name))
    return Contents(data)


def _refusal(name: str, info: os.stat_result) -> str | None:
    for test, kind in _KINDS:
        if test(info.st_mode):
            return f"not gradable: {name} is {kind}"
    if not stat.S_ISREG(info.st_mode):
        return f"not gradable: {name} is not a regular file"
    if info.st_size > MOST_BYTES:
        return _too_big(name)
    return None


def _too_big(name: str) -> str:
    return f"not gradable: {name} is larger than {MOST_BYTES // (1 << 20)} MiB"


def _unreadable(name: str, exc: OSError) -> str:
    why = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"not gradable: {name} cannot be read ({why.lower()})"


def files(folder: Path) -> Iterator[Path]:
    """The files below `folder`, breadth first, never following a link, looking at a
    bounded number of entries (a folder nested a thousand deep costs no more than a
    small one)."""
    queue = [folder]
    looked = 0
    while queue and looked < LOOK_AT_MOST:
        current = queue.pop(0)
        try:
            entries = sorted(current.iterdir())
        except OSError:
            continue
        for entry in entries:
            looked += 1
            try:
                mode = entry.lstat().st_mode
            except OSError:  # gone, or not ours to look at: yielded, refused when read
                mode = 0
            if stat.S_ISDIR(mode):
                if not passed_over(entry):
                    queue.append(entry)
            elif not stat.S_ISLNK(mode) or not _is_dir(entry):
                yield entry
            if looked >= LOOK_AT_MOST:
                return


def passed_over(folder: Path) -> bool:
    """Whether `folder` holds what no student wrote: see PASSED_OVER."""
    return folder.name in PASSED_OVER or os.path.lexists(folder / "pyvenv.cfg")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a link to itself, a folder not ours to enter
        return False


def holds(folder: Path, most: int = 5) -> str:
    """What a folder holds, in a few names: for a message about a missing file."""
    # Names as os.listdir gives them: one not UTF-8 holds surrogates (\udcff).
    names = sorted({untrusted.escape_name(p.name) for p in files(folder)})
    if not names:
        return "no files"
    return ", ".join(names[:most]) + (" …" if len(names) > most else "")
