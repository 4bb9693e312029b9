"""Outputs never lose a user's files: --force replaces only funnelsim's own folders, never
the current directory, its parents or home; a replace killed at any step leaves the old or
the new results; concurrent writers to one name exclude each other; bad output paths are
refused before simulating; damaged sweep points are re-run; user text is never markup.

Kill and race cases run the CLI in a child process that SIGKILLs itself, or waits on a
pipe, at a chosen step (a patched function), never on a timer.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from funnelsim.atomic import MARKER, write_folder
from funnelsim.atomic.leftovers import NameLock
from funnelsim.atomic.markers import STAGING_MARKER
from funnelsim.cli import main

TINY = """\
name: tiny
horizon_days: 60
sources:
  inbound: {leads_per_week: 20, cost_per_lead: 50}
"""
RESULT_FILES = {
    MARKER,
    "cashflow.csv",
    "forecast.csv",
    "forecast_accuracy.csv",
    "stages.parquet",
    "timeseries.csv",
    "timeseries_bands.csv",
    "leakage.csv",
    "leakage_replications.csv",
    "ledger.parquet",
    "replications.csv",
    "scenario.yaml",
    "summary.csv",
    "summary.json",
    "team_levels.parquet",
    "terms.parquet",
}
WAIT = 300  # seconds: a bound on a stuck child, never a timing assertion

# The child: runs the CLI with one function patched to SIGKILL itself or to wait on a pipe.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    import funnelsim.atomic.leftovers as leftovers
    import funnelsim.atomic.staged as staged
    import funnelsim.output as output
    from funnelsim.cli import main

    hook, target, ready, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    args = sys.argv[5:]

    def die(*_args):
        os.kill(os.getpid(), signal.SIGKILL)

    def after(function, calls=1, only=None):
        seen = []
        def wrapped(*a):
            result = function(*a)
            if only is None or Path(a[-1]).name == only:
                seen.append(1)
                if len(seen) == calls:
                    die()
            return result
        return wrapped

    if hook == "before_exchange":
        staged.exchange = die
    elif hook == "after_exchange":
        staged.exchange = after(staged.exchange)
    elif hook == "during_cleanup":
        leftovers.remove_entry = after(leftovers.remove_entry, calls=3)
    elif hook.startswith("two_step"):
        staged.exchange = lambda first, second: False
        if hook == "two_step_after_first_rename":
            os.rename = after(os.rename, calls=1)
        elif hook == "two_step_after_second_rename":
            os.rename = after(os.rename, calls=2)
    elif hook == "before_place":
        real = staged.rename_noreplace
        def before(source, destination):
            if Path(destination).name == target:
                die()
            return real(source, destination)
        staged.rename_noreplace = before
    elif hook == "after_place":
        staged.rename_noreplace = after(staged.rename_noreplace, only=target)
    elif hook == "hold_at_fill":
        real_fill = output.fill_results
        def held(*a, **k):
            os.write(ready, b"r")
            os.read(go, 1)
            return real_fill(*a, **k)
        output.fill_results = held
    main(args)
    """
)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args])


def _error_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    return lines[0]


def _run(tiny: Path, out: Path, *extra: str) -> Result:
    return _invoke(["run", tiny, "--out", out, *extra])


def _seed(folder: Path) -> int:
    return json.loads((folder / "summary.json").read_text())["seed"]


def _assert_complete(folder: Path, *extra: str) -> None:
    assert {p.name for p in folder.iterdir()} == RESULT_FILES | set(extra)
    assert json.loads((folder / MARKER).read_text())["kind"] == "run"


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record any simulation the run command starts (none must start for bad outputs)."""
    calls: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("simulated although the output was bad")

    monkeypatch.setattr("funnelsim.api.run", refuse)
    return calls


# ------------------------------------------------------------------ what --force replaces


def test_force_refuses_a_user_folder_and_leaves_it_intact(tiny: Path, tmp_path: Path) -> None:
    userdata = tmp_path / "userdata"
    userdata.mkdir()
    (userdata / "thesis.txt").write_text("four years of work")
    line = _error_line(_run(tiny, userdata, "--force"))
    assert "not a funnelsim results folder" in line and "will not be replaced" in line
    assert _listing(userdata) == ["thesis.txt"]
    assert (userdata / "thesis.txt").read_text() == "four years of work"
    assert _hidden(tmp_path) == []


def test_force_replaces_funnelsim_results(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _run(tiny, out, "--seed", "1").exit_code == 0
    _assert_complete(out)
    again = _run(tiny, out, "--seed", "3", "--force")
    assert again.exit_code == 0, again.output
    _assert_complete(out)
    assert _seed(out) == 3
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("where", ["cwd", "dot", "empty", "parent", "home", "link_to_cwd"])
@pytest.mark.parametrize("force", [True, False])
def test_cwd_parents_and_home_are_never_replaced(
    tiny: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_simulation: list[object],
    where: str,
    force: bool,
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    (tmp_path / "link").symlink_to(work)
    targets = {
        "cwd": work,
        "dot": Path("."),
        "empty": Path(""),
        "parent": tmp_path / "a",
        "home": home,
        "link_to_cwd": tmp_path / "link",
    }
    target = targets[where]
    for folder in (work, tmp_path / "a", home):  # even a marker does not make them fair game
        (folder / MARKER).write_text(json.dumps({"kind": "run"}))
    before = _listing(tmp_path)
    line = _error_line(_run(tiny, target, *(["--force"] if force else [])))
    assert "never writes its output over it" in line
    assert _listing(tmp_path) == before
    assert no_simulation == []


def test_filesystem_root_is_never_replaced(tiny: Path, no_simulation: list[object]) -> None:
    line = _error_line(_run(tiny, Path("/"), "--force"))
    assert "filesystem root" in line
    assert no_simulation == []


def test_sweep_refuses_a_run_folder_and_a_user_folder(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "r17"
    assert _run(tiny, out).exit_code == 0
    sweep = ["sweep", tiny, "--reps", "2", "--grid", "teams.sdr.headcount=3"]
    line = _error_line(_invoke([*sweep, "--out", out]))
    assert "holds funnelsim run output, not a sweep" in line
    _assert_complete(out)
    userdata = tmp_path / "userdata"
    userdata.mkdir()
    (userdata / "thesis.txt").write_text("mine")
    assert "not a funnelsim sweep folder" in _error_line(_invoke([*sweep, "--out", userdata]))
    assert _listing(userdata) == ["thesis.txt"]


def test_run_force_refuses_a_sweep_folder(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    sweep = ["sweep", tiny, "--reps", "2", "--grid", "teams.sdr.headcount=3", "--out", out]
    assert _invoke(sweep).exit_code == 0
    before = _listing(out)
    line = _error_line(_run(tiny, out, "--force"))
    assert "holds funnelsim sweep output, not run output" in line
    assert _listing(out) == before


def test_folder_from_before_markers_resumes_as_a_sweep(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "old-sweep"
    sweep = ["sweep", tiny, "--reps", "2", "--grid", "teams.sdr.headcount=3", "--out", out]
    assert _invoke(sweep).exit_code == 0
    (out / MARKER).unlink()
    again = _invoke(sweep)
    assert again.exit_code == 0, again.output
    assert json.loads((out / MARKER).read_text())["kind"] == "sweep"


def test_calibration_style_folders_are_marked_and_replaced_only_when_marked(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "fit"
    write_folder(folder, lambda staging: (staging / "a.txt").write_text("1"))
    assert json.loads((folder / MARKER).read_text())["kind"] == "folder"
    write_folder(folder, lambda staging: (staging / "b.txt").write_text("2"), force=True)
    assert sorted(p.name for p in folder.iterdir()) == [MARKER, "b.txt"]


# ------------------------------------------------------- refused before any simulation


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("out_under_a_file", "is not a folder"),
        ("out_unwritable", "cannot write in /proc"),
        ("report_unwritable", "cannot write in /proc"),
        ("report_under_a_file", "is not a folder"),
        ("report_is_out", "must not be the --out folder"),
        ("report_inside_out", "must not be the --out folder"),
        ("report_exists", "already exists"),
    ],
)
def test_impossible_outputs_are_refused_before_simulating(
    tiny: Path, tmp_path: Path, no_simulation: list[object], case: str, expected: str
) -> None:
    a_file = tmp_path / "existing_file"
    a_file.write_text("keep")
    out = tmp_path / "out"
    args = {
        "out_under_a_file": ["--out", a_file / "sub"],
        "out_unwritable": ["--out", "/proc/funnelsim_out"],
        "report_unwritable": ["--out", out, "--report", "/proc/rep.html"],
        "report_under_a_file": ["--out", out, "--report", a_file / "r.html"],
        "report_is_out": ["--out", out, "--report", out],
        "report_inside_out": ["--out", out, "--report", out / "r.html"],
        "report_exists": ["--out", out, "--report", a_file],
    }[case]
    before = _listing(tmp_path)
    result = _invoke(["run", tiny, *args])
    if result.exit_code == 2 and "Usage:" in result.output:
        pytest.fail(f"refused by click, not by funnelsim: {result.output}")
    assert expected in _error_line(result)
    assert no_simulation == []
    assert _listing(tmp_path) == before
    assert a_file.read_text() == "keep"


def test_report_and_csv_outputs_of_experiments_refused_before_simulating(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated although the output was bad")

    monkeypatch.setattr("funnelsim.api.compare", refuse)
    compare = ["compare", tiny, "--set", "seam1.sla_hours=2", "--reps", "2"]
    assert "cannot write in /proc" in _error_line(_invoke([*compare, "--report", "/proc/r.html"]))
    assert "cannot write in /proc" in _error_line(_invoke([*compare, "--out", "/proc/c.csv"]))


def test_no_output_replaces_a_file_read_as_input_even_with_force(
    tiny: Path, tmp_path: Path, no_simulation: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slip such as ``--report my.yaml --force`` must not overwrite the scenario (or a
    file it extends) with the output; other files are still replaced with --force."""
    compared: list[object] = []
    monkeypatch.setattr("funnelsim.api.compare", lambda *args, **kw: compared.append(args))
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {tiny.name}\nname: child\n")
    texts = {path: path.read_text() for path in (tiny, child)}
    for command in (
        ["run", tiny, "--reps", "2", "--report", tiny, "--force"],
        ["run", child, "--reps", "2", "--report", tiny, "--force"],
        ["run", child, "--reps", "2", "--xlsx", child, "--force"],
        ["compare", tiny, child, "--reps", "2", "--out", child, "--force"],
        ["compare", tiny, child, "--reps", "2", "--report", tiny, "--force"],
    ):
        line = _error_line(_invoke(command))
        assert "read as input" in line and "scenario file" in line
    assert {path: path.read_text() for path in (tiny, child)} == texts
    assert no_simulation == [] and compared == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["child.yaml", "tiny.yaml"]


def test_inputs_are_guarded_only_within_a_command(tmp_path: Path) -> None:
    """Outside a command line's run (a notebook) a file read earlier may be written again."""
    from funnelsim.inputs import guarding_inputs, input_at, note_input

    read, other = tmp_path / "read.yaml", tmp_path / "other.yaml"
    read.write_text("name: a\n")
    other.write_text("name: b\n")
    note_input(read, "a scenario file")
    assert input_at(read) is None
    with guarding_inputs():
        note_input(read, "a scenario file")
        assert input_at(read) == (str(read), "a scenario file")
        assert input_at(other) is None
        link = tmp_path / "link.yaml"
        os.link(read, link)  # the same file under another name is still the input
        assert input_at(link) == (str(read), "a scenario file")
    assert input_at(read) is None and input_at(link) is None


def test_out_with_spaces_and_unicode_is_written(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out dir" / "ünï cødé 📈"
    assert _run(tiny, out).exit_code == 0
    _assert_complete(out)


def test_table_outputs_refuse_an_existing_file_and_keep_it(tiny: Path, tmp_path: Path) -> None:
    existing = tmp_path / "existing_file"
    existing.write_text("keep")
    line = _error_line(_invoke(["leaks", tiny, "--reps", "2", "--out", existing]))
    assert "already exists" in line
    assert existing.read_text() == "keep"


def test_parents_made_for_a_refused_run_are_removed(tiny: Path, tmp_path: Path) -> None:
    result = _invoke(["run", tiny, "--out", tmp_path / "new" / "out", "--report", "/proc/r.html"])
    assert "cannot write in /proc" in _error_line(result)
    assert not (tmp_path / "new").exists()


def test_run_with_leaks_writes_seam_fixes_inside_the_folder(tiny: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "lk", tmp_path / "r" / "lk.html"
    result = _invoke(["run", tiny, "--reps", "2", "--leaks", "--out", out, "--report", report])
    assert result.exit_code == 0, result.output
    _assert_complete(out, "seam_fixes.csv")
    assert report.is_file()
    assert _hidden(tmp_path) == [] and _hidden(report.parent) == []


def test_default_folder_names_are_unique_and_sortable(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(3):
        assert _invoke(["run", tiny, "--reps", "2"]).exit_code == 0
    names = [p.name for p in (tmp_path / "results").iterdir()]
    assert len(names) == 3
    assert all(name.startswith("tiny-") for name in names)
    stamps = sorted(names)
    assert stamps == sorted(names, key=lambda n: (tmp_path / "results" / n).stat().st_mtime_ns)


# ----------------------------------------------------------------------- leftovers


def test_marked_leftover_staging_is_cleaned_and_unmarked_folders_kept(
    tiny: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    leftover = tmp_path / ".out.ab12cd34"
    leftover.mkdir()
    (leftover / STAGING_MARKER).write_text(json.dumps({"target": "out", "pid": 1}))
    (leftover / "summary.csv").write_text("half")
    empty = tmp_path / ".out.zz99zz99"
    empty.mkdir()
    users = tmp_path / ".out.qwertyui"
    users.mkdir()
    (users / "notes.txt").write_text("mine")
    other = tmp_path / ".outer.ab12cd34"
    other.mkdir()
    (other / STAGING_MARKER).write_text(json.dumps({"target": "outer", "pid": 1}))
    result = _run(tiny, out)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "removed 2 leftovers" in notes[0] and str(out) in notes[0]
    assert _hidden(tmp_path) == [".out.qwertyui", ".outer.ab12cd34"]
    assert (users / "notes.txt").read_text() == "mine"
    _assert_complete(out)


# ------------------------------------------------------- concurrency (in one process)


def test_a_held_name_refuses_a_second_writer(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "race"
    holder = NameLock(out)
    holder.acquire()
    try:
        line = _error_line(_run(tiny, out))
        assert f"another funnelsim run is writing {out}" in line
        sweep = ["sweep", tiny, "--reps", "2", "--grid", "teams.sdr.headcount=3"]
        assert "another funnelsim run is writing" in _error_line(_invoke([*sweep, "--out", out]))
    finally:
        holder.release()
    assert not out.exists()
    assert _hidden(tmp_path) == []


# -------------------------------------------------------------------- child processes


def _child(
    hook: str, target: str, args: list[object], cwd: Path, fds: tuple[int, int] = (-1, -1)
) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", CHILD, hook, target, str(fds[0]), str(fds[1])]
    return subprocess.Popen(
        [*command, *(str(arg) for arg in args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=[fd for fd in fds if fd >= 0],
    )


def _finish(child: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = child.communicate(timeout=WAIT)
    return child.returncode, out + err


def _killed_child(hook: str, target: str, args: list[object], cwd: Path) -> None:
    code, output = _finish(_child(hook, target, args, cwd))
    assert code == -9, f"the child was not killed at {hook}: {code}\n{output}"


class _Held:
    """A child held at the fill step until released (pipes, not timers)."""

    def __init__(self, args: list[object], cwd: Path) -> None:
        self._ready_read, ready_write = os.pipe()
        go_read, self._go_write = os.pipe()
        self.child = _child("hold_at_fill", "-", args, cwd, (ready_write, go_read))
        os.close(ready_write)
        os.close(go_read)

    def wait_until_held(self) -> None:
        readable, _, _ = select.select([self._ready_read], [], [], WAIT)
        assert readable and os.read(self._ready_read, 1) == b"r", self.child.communicate()

    def release(self) -> tuple[int, str]:
        os.write(self._go_write, b"g")
        result = _finish(self.child)
        os.close(self._go_write)
        os.close(self._ready_read)
        return result


@pytest.mark.parametrize(
    ("hook", "seed_at_name"),
    [("before_exchange", 1), ("after_exchange", 3), ("during_cleanup", 3)],
)
def test_replace_killed_at_each_step_keeps_old_or_new_results(
    tiny: Path, tmp_path: Path, hook: str, seed_at_name: int
) -> None:
    out = tmp_path / "st2"
    assert _run(tiny, out, "--seed", "1").exit_code == 0
    _killed_child(hook, "st2", ["run", tiny, "--seed", "3", "--out", "st2", "--force"], tmp_path)
    _assert_complete(out)
    assert _seed(out) == seed_at_name
    lock = ".st2.funnelsim-lock"
    assert [name for name in _hidden(tmp_path) if name != lock]  # staging or the old folder
    again = _run(tiny, out, "--seed", "5")  # no --force: refused, but leftovers cleaned first
    assert again.exit_code == 2
    assert "note: removed 1 leftover of an interrupted funnelsim write" in again.output
    assert "already exists" in again.output
    assert _hidden(tmp_path) == []
    assert _seed(out) == seed_at_name


@pytest.mark.parametrize(
    ("hook", "seed_at_name", "note"),
    [
        ("two_step_after_first_rename", None, "restored the previous"),
        ("two_step_after_second_rename", 3, "finished cleaning up an interrupted replace"),
    ],
)
def test_two_step_replace_killed_midway_is_undone_by_the_next_write(
    tiny: Path, tmp_path: Path, hook: str, seed_at_name: int | None, note: str
) -> None:
    out = tmp_path / "st2"
    assert _run(tiny, out, "--seed", "1").exit_code == 0
    _killed_child(hook, "st2", ["run", tiny, "--seed", "3", "--out", "st2", "--force"], tmp_path)
    assert (tmp_path / ".st2.funnelsim-journal").is_file()
    if seed_at_name is None:
        assert not out.exists()  # between the two renames: the journal knows where it is
    else:
        _assert_complete(out)
    again = _run(tiny, tmp_path / "other")  # any write beside it recovers it
    assert again.exit_code == 0, again.output
    assert note in again.output
    _assert_complete(out)
    assert _seed(out) == (seed_at_name or 1)
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize(("hook", "exists"), [("before_place", False), ("after_place", True)])
def test_run_with_leaks_killed_never_leaves_a_folder_without_seam_fixes(
    tiny: Path, tmp_path: Path, hook: str, exists: bool
) -> None:
    args = ["run", tiny, "--reps", "2", "--leaks", "--out", "lk"]
    _killed_child(hook, "lk", args, tmp_path)
    out = tmp_path / "lk"
    assert out.exists() == exists
    if exists:
        _assert_complete(out, "seam_fixes.csv")
    result = _invoke([*args[:-1], out])
    assert result.exit_code == (2 if exists else 0), result.output
    assert _hidden(tmp_path) == []
    _assert_complete(out, "seam_fixes.csv")


@pytest.mark.parametrize("force", [False, True])
def test_concurrent_writers_to_one_name_one_wins_the_other_exits_2(
    tiny: Path, tmp_path: Path, force: bool
) -> None:
    flags = ["--force"] if force else []
    first = _Held(["run", tiny, "--seed", "1", "--out", "race", *flags], tmp_path)
    first.wait_until_held()
    code, output = _finish(
        _child("none", "-", ["run", tiny, "--seed", "2", "--out", "race"], tmp_path)
    )
    assert code == 2, output
    assert "another funnelsim run is writing race" in output
    code, output = first.release()
    assert code == 0, output
    _assert_complete(tmp_path / "race")
    assert _seed(tmp_path / "race") == 1
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("force", [False, True])
def test_a_folder_appearing_during_the_run_is_never_replaced(
    tiny: Path, tmp_path: Path, force: bool
) -> None:
    flags = ["--force"] if force else []
    held = _Held(["run", tiny, "--out", "late", "--report", "late.html", *flags], tmp_path)
    held.wait_until_held()
    late = tmp_path / "late"
    late.mkdir()
    (late / "thesis.txt").write_text("written meanwhile")
    code, output = held.release()
    assert code == 2, output
    assert ("already exists" in output) != force
    assert _listing(late) == ["thesis.txt"]
    assert not (tmp_path / "late.html").exists()
    assert _hidden(tmp_path) == []


def test_concurrent_runs_without_out_get_their_own_folders(tiny: Path, tmp_path: Path) -> None:
    runs = [_Held(["run", tiny, "--seed", str(seed)], tmp_path) for seed in (1, 2)]
    for run in runs:
        run.wait_until_held()  # both are past their checks, inside the same second
    for run in runs:
        code, output = run.release()
        assert code == 0, output
    folders = sorted((tmp_path / "results").iterdir())
    assert len(folders) == 2
    assert sorted(_seed(folder) for folder in folders) == [1, 2]
    for folder in folders:
        _assert_complete(folder)


# --------------------------------------------------------------------- sweep resume


@pytest.mark.parametrize("damage", ["bad_json", "wrong_keys", "other_sweep", "short"])
def test_damaged_or_foreign_sweep_point_is_run_again(
    tiny: Path, tmp_path: Path, damage: str
) -> None:
    grid = ["--reps", "2", "--grid", "teams.sdr.headcount=3", "--json"]
    clean = _invoke(["sweep", tiny, *grid, "--out", tmp_path / "clean"])
    assert clean.exit_code == 0, clean.output
    other = _invoke(["sweep", tiny, *grid, "--seed", "9", "--out", tmp_path / "other"])
    assert other.exit_code == 0
    out = tmp_path / "s24"
    assert _invoke(["sweep", tiny, *grid, "--out", out]).exit_code == 0
    point = sorted((out / "points").glob("*.json"))[-1]
    good = point.read_text()
    foreign = sorted((tmp_path / "other" / "points").glob("*.json"))[-1].read_text()
    document = json.loads(good)
    document["replications"] = document["replications"][:1]
    point.write_text(
        {
            "bad_json": "{bad",
            "wrong_keys": '{"overrides": {}, "replications": [{"x": 1}]}',
            "other_sweep": foreign,
            "short": json.dumps(document),
        }[damage]
    )
    result = _invoke(["sweep", tiny, *grid, "--out", out])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert (
        len(warnings) == 1
        and str(point) in warnings[0]
        and "running this point again" in warnings[0]
    )
    assert json.loads(point.read_text()) == json.loads(good)
    assert json.loads(result.stdout) == json.loads(clean.stdout)


# -------------------------------------------------------------------------- markup


def test_markup_in_names_and_paths_prints_literally(tiny: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "rich.yaml"
    scenario.write_text(TINY.replace("name: tiny", 'name: "x [/bold] [red]y[/] [/]"'))
    out, report = tmp_path / "o7[/]", tmp_path / "r8[/bold].html"
    result = _invoke(["run", scenario, "--out", out, "--report", report])
    assert result.exit_code == 0, result.output
    assert "x [/bold] [red]y[/] [/]" in result.output
    assert f"Results written to {out}" in result.output
    assert f"Report written to {report}" in result.output
    compare = _invoke(["compare", scenario, "--set", "seam1.sla_hours=2", "--reps", "2"])
    assert compare.exit_code == 0, compare.output
    assert "x [/bold] [red]y[/] [/] with --set" in compare.output
