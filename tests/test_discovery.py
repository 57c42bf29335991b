"""Reading a submissions folder as real uploads lay it out: names in two Unicode
spellings, what the system leaves beside them, Canvas's and Moodle's bulk downloads,
files almost named right, and files identical to others. At the discover() level: no
grading, so fast."""

from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path

import pytest

from grader import exports, report, uploads
from grader.batch import Student, discover
from grader.manifest import Kit
from grader.results import ExerciseResult
from tests.conftest import ROOT, run_grader

SOLUTION = (ROOT / "solutions" / "broadcast.py").read_text()
STARTER = (ROOT / "starter" / "broadcast.py").read_text()
OWN = SOLUTION + "\n# mine\n"  # a passing file that is no one else's


def write(path: Path, text: str = OWN) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def find(kit: Kit, folder: Path, exercise: str | None = "broadcast") -> dict[str, Student]:
    students = discover(kit, folder, kit.select(exercise), one_exercise=exercise is not None)
    return {s.name: s for s in students}


def flags(student: Student, exercise: str = "broadcast") -> str:
    return " | ".join(student.flags.get(exercise, ()))


# 1. Names are composed (NFC), for matching and for showing.

NFD = unicodedata.normalize("NFD", "José")
NFC = unicodedata.normalize("NFC", "José")


def test_a_decomposed_name_is_shown_composed_and_matches_the_roster(
    kit: Kit, tmp_path: Path
) -> None:
    write(tmp_path / NFD / "broadcast.py")
    [name] = find(kit, tmp_path)
    assert name == NFC and name != NFD
    grades = {name: [ExerciseResult("broadcast", "Broadcast")]}
    roster = {NFD: {"id": "42"}}  # the roster typed on a Mac, say
    rows = list(csv.DictReader(io.StringIO(exports.gradebook_csv(grades, ["broadcast"], roster))))
    assert [(r["student"], r["id"]) for r in rows] == [(NFC, "42")]


def test_two_spellings_of_one_name_stay_two_students_and_are_flagged(
    kit: Kit, tmp_path: Path
) -> None:
    write(tmp_path / NFD / "broadcast.py")
    write(tmp_path / NFC / "broadcast.py", OWN + "# other\n")
    students = find(kit, tmp_path)
    assert sorted(students) == [NFC, f"{NFC} (2)"]
    for name, student in students.items():
        assert "near-duplicate" in flags(student) and "NFC/NFD" in flags(student), name
    assert f"{NFC} (2)" in flags(students[NFC])


# 2. What the system leaves in a folder is nobody's submission.


def test_system_files_and_hidden_entries_get_no_row(kit: Kit, tmp_path: Path) -> None:
    write(tmp_path / "ada" / "broadcast.py")
    for junk in (".DS_Store", "Thumbs.db", "desktop.ini", "._ada", ".idea/x.xml"):
        write(tmp_path / junk, "junk")
    write(tmp_path / "__MACOSX" / "ada" / "._broadcast.py", "junk")
    write(tmp_path / ".git" / "HEAD", "ref: refs/heads/main")
    assert list(find(kit, tmp_path)) == ["ada"]


def test_a_folder_of_nothing_but_system_files_says_so(kit: Kit, tmp_path: Path) -> None:
    write(tmp_path / ".DS_Store", "junk")
    with pytest.raises(Exception, match="only system files"):
        find(kit, tmp_path)


@pytest.mark.parametrize(
    "decoy",
    [
        ".git/objects/broadcast.py",
        "venv/lib/python3.11/site-packages/pkg/broadcast.py",
        ".venv/broadcast.py",
        "node_modules/pkg/broadcast.py",
        "__MACOSX/src/broadcast.py",
        "__pycache__/broadcast.py",
        "lib/site-packages/broadcast.py",
        "env2/lib/python3.12/dist-packages/broadcast.py",
        "myenv/broadcast.py",  # a virtual environment by its pyvenv.cfg
    ],
)
def test_a_copy_in_a_folder_no_student_writes_is_not_a_candidate(
    kit: Kit, tmp_path: Path, decoy: str
) -> None:
    mine = write(tmp_path / "ada" / "src" / "broadcast.py")
    write(tmp_path / "ada" / decoy, "decoy")
    write(tmp_path / "ada" / "myenv" / "pyvenv.cfg", "home = /usr")
    ada = find(kit, tmp_path)["ada"]
    assert ada.job(kit.get("broadcast")) == (mine, None)


# 3. Canvas and Moodle bulk downloads: one student per person.


def test_canvas_flat_files_are_grouped_per_student_and_mapped_by_original_name(
    kit: Kit, tmp_path: Path
) -> None:
    write(tmp_path / "doejane_1234_5678_broadcast.py")
    write(tmp_path / "doejane_1234_5678_direct.py", OWN + "# direct\n")
    write(tmp_path / "doejane_1234_5678_notes.txt", "notes")
    write(tmp_path / "smithbob_LATE_999_5679_broadcast-1.py", OWN + "# late\n")
    students = find(kit, tmp_path, exercise=None)
    assert sorted(students) == ["doejane", "smithbob"]
    jane, bob = students["doejane"], students["smithbob"]
    assert jane.files == {
        "broadcast": tmp_path / "doejane_1234_5678_broadcast.py",
        "direct": tmp_path / "doejane_1234_5678_direct.py",
    }
    # Canvas's own -1 for a file handed in again: mapped, and not flagged.
    assert bob.files == {"broadcast": tmp_path / "smithbob_LATE_999_5679_broadcast-1.py"}
    assert not bob.flags and not jane.flags
    # What a person did not hand in is missing, and said to be missing from their files.
    rooms, refused = bob.job(kit.get("rooms"))
    assert refused is None and not rooms.exists() and "smithbob" in rooms.parent.name


def test_moodle_folders_and_flat_files_are_one_student_per_person(kit: Kit, tmp_path: Path) -> None:
    held = write(tmp_path / "Ada Lovelace_101_assignsubmission_file_" / "src" / "broadcast.py")
    write(tmp_path / "Ada Lovelace_101_assignsubmission_onlinetext_" / "onlinetext.html", "hi")
    flat = write(tmp_path / "Bob Byte_102_assignsubmission_file_broadcast.py", OWN + "# b\n")
    students = find(kit, tmp_path)
    assert sorted(students) == ["Ada Lovelace", "Bob Byte"]
    assert students["Ada Lovelace"].job(kit.get("broadcast")) == (held, None)
    assert students["Bob Byte"].job(kit.get("broadcast")) == (flat, None)


def test_a_lone_canvas_file_named_otherwise_is_graded_under_one_exercise_and_flagged(
    kit: Kit, tmp_path: Path
) -> None:
    write(tmp_path / "doejane_1_2_solution.py")
    write(tmp_path / "roebob_3_4_ada_direct.py", OWN + "# bob\n")
    students = find(kit, tmp_path)
    assert "graded solution.py: the exercise's file is broadcast.py" in flags(students["doejane"])
    assert flags(students["roebob"]) == "named for exercise direct, graded as broadcast"
    assert all(s.files for s in students.values())


# 4. A file almost named right is graded (when it is the only one) and flagged.


@pytest.mark.parametrize(
    "name",
    [
        "Broadcast.py",
        "broadcast (1).py",
        "broadcast-1.py",
        "broadcast copy.py",
        "broadcast - Copy (2).py",
    ],  # fmt: skip
)
def test_a_near_miss_name_is_graded_and_flagged(kit: Kit, tmp_path: Path, name: str) -> None:
    mine = write(tmp_path / "ada" / "sub" / name)
    ada = find(kit, tmp_path)["ada"]
    assert ada.job(kit.get("broadcast")) == (mine, None)
    assert flags(ada) == (
        f"graded sub/{name}: the exercise's file is broadcast.py; on Gradescope it would score 0"
    )


def test_the_exact_name_wins_over_a_near_miss_and_two_near_misses_grade_none(
    kit: Kit, tmp_path: Path
) -> None:
    exact = write(tmp_path / "ada" / "broadcast.py")
    write(tmp_path / "ada" / "Broadcast (1).py")
    write(tmp_path / "bob" / "Broadcast.py")
    write(tmp_path / "bob" / "broadcast copy.py")
    write(tmp_path / "cleo" / "Broadcast-final.py")  # not a copy's name: missing, unflagged
    students = find(kit, tmp_path)
    assert students["ada"].job(kit.get("broadcast")) == (exact, None) and not students["ada"].flags
    bob_file, _ = students["bob"].job(kit.get("broadcast"))
    assert not bob_file.exists()
    assert "2 files almost named broadcast.py" in flags(students["bob"])
    assert not students["cleo"].flags


@pytest.mark.parametrize("name", ["ada_direct.py", "direct.py", "direct (1).py"])
def test_a_lone_file_named_for_another_exercise_is_graded_and_flagged(
    kit: Kit, tmp_path: Path, name: str
) -> None:
    write(tmp_path / name)
    [student] = find(kit, tmp_path).values()
    assert student.files == {"broadcast": tmp_path / name}
    assert flags(student) == "named for exercise direct, graded as broadcast"


def test_lone_files_named_for_the_student_or_the_exercise_are_not_flagged(
    kit: Kit, tmp_path: Path
) -> None:
    write(tmp_path / "carol.py")
    write(tmp_path / "dan_broadcast.py", OWN + "# dan\n")
    assert not any(s.flags for s in find(kit, tmp_path).values())


def test_near_miss_names() -> None:
    wanted = "broadcast.py"
    assert uploads.near_miss("broadcast.py", wanted) is None
    assert uploads.near_miss("BROADCAST.PY", wanted) == "case"
    assert uploads.near_miss("broadcast-2.py", wanted) == "numbered"
    assert uploads.near_miss("broadcast copy 2.py", wanted) == "copy"
    for other in ("broadcaster.py", "broadcast-final.py", "broadcast.txt", "._broadcast.py"):
        assert uploads.near_miss(other, wanted) is None, other


# 5. Identical files are flagged, never penalised.


def test_files_identical_to_the_reference_or_between_students_are_flagged(
    kit: Kit, tmp_path: Path
) -> None:
    write(tmp_path / "ada" / "broadcast.py", SOLUTION)
    write(tmp_path / "bob" / "broadcast.py", SOLUTION)
    write(tmp_path / "cleo" / "broadcast.py", OWN + "# shared\n")
    write(tmp_path / "dan.py", OWN + "# shared\n")  # a lone file, under one exercise
    write(tmp_path / "eve" / "broadcast.py", OWN + "# eve's own\n")
    write(tmp_path / "fay" / "broadcast.py", STARTER)  # untouched starters are alike
    write(tmp_path / "gus" / "broadcast.py", STARTER)
    students = find(kit, tmp_path)
    reference = "identical to the reference solution (solutions/broadcast.py)"
    assert flags(students["ada"]) == f"{reference} | identical to broadcast.py of bob"
    assert flags(students["bob"]) == f"{reference} | identical to broadcast.py of ada"
    assert flags(students["cleo"]) == "identical to broadcast.py of dan"
    assert flags(students["dan"]) == "identical to broadcast.py of cleo"
    for name in ("eve", "fay", "gus"):
        assert not students[name].flags, name
    assert all(not s.problem and not s.problems for s in students.values())


# Flags travel with the results, and show.


def test_flags_travel_with_results_into_the_gradebook_and_the_table(kit: Kit) -> None:
    student = Student("ada", ROOT, flags={"broadcast": ("named for exercise direct",)})
    result = student.flagged(ExerciseResult("broadcast", "Broadcast"))
    assert result.flags == ("named for exercise direct",)
    old = result.to_dict()
    del old["flags"]  # saved before flags: still loads
    assert ExerciseResult.from_dict(old).flags == ()
    assert ExerciseResult.from_dict(result.to_dict()) == result
    book = exports.gradebook_csv({"ada": [result], "bob": []}, ["broadcast"])
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(book))}
    assert rows["ada"]["flags"] == "broadcast: named for exercise direct"
    assert rows["bob"]["flags"] == ""
    table = report.grades_table({"ada": [result]}, ["broadcast"])
    assert report.FLAG in str(table.caption)
    # Flags are no part of the fingerprint: they follow other students' files, and are
    # set again on kept results without grading.
    assert student.findings() == Student("ada", ROOT).findings() == str((None, {}))


# End to end: a class of two, graded.


def test_grading_carries_flags_into_the_gradebook_and_the_terminal(tmp_path: Path) -> None:
    classroom, out = tmp_path / "class", tmp_path / "grades"
    write(classroom / "ada" / "Broadcast.py", SOLUTION)
    write(classroom / "bob" / "broadcast.py", SOLUTION)
    write(classroom / ".DS_Store", "junk")
    args = ["grade", "--submissions", str(classroom), "-e", "broadcast", "--out", str(out)]
    done = run_grader(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report.FLAG in done.stdout
    book = (out / "gradebook.csv").read_text(encoding="utf-8")
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(book))}
    assert sorted(rows) == ["ada", "bob"]
    assert rows["ada"]["percent"] == "100.0"  # graded, only flagged
    assert "graded Broadcast.py: the exercise's file is broadcast.py" in rows["ada"]["flags"]
    assert "identical to broadcast.py of bob" in rows["ada"]["flags"]
    assert "identical to the reference solution" in rows["bob"]["flags"]
    again = run_grader(*args)  # the same files, the same flags: kept, not graded again
    assert "kept 2" in again.stdout, again.stdout
