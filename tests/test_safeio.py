"""Safe output: atomic writes that never follow a link, reads that stay in their folder, and
temporary folders of killed runs removed by the next run (never those of a live one)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.errors import UserError
from sim.safeio import (
    LOCK_SUFFIX,
    folder_file,
    read_folder_file,
    remove_stale_folders,
    staged_folder,
    write_file,
    write_text,
)

ROOT = Path(__file__).resolve().parents[1]
#: Longest wait for a child process to reach a state (a guard against a hang, not a timing).
WAIT_S = 120.0


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- write_file


def test_write_replaces_atomically_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_text(target, "first\n")
    write_text(target, "second\n")
    assert target.read_text() == "second\n"
    assert _names(tmp_path) == ["out.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("precious")

    def half(handle: object) -> None:
        handle.write(b"half a fi")  # type: ignore[attr-defined]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_file(target, half)
    assert target.read_text() == "precious"
    assert _names(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("dangling", [False, True])
def test_write_refuses_a_link(tmp_path: Path, dangling: bool) -> None:
    victim = tmp_path / "victim.txt"
    if not dangling:
        victim.write_text("keep me")
    link = tmp_path / "out.txt"
    link.symlink_to(victim)
    with pytest.raises(UserError, match="is a symbolic link; xpusim does not write through"):
        write_text(link, "evil")
    assert link.is_symlink()
    assert victim.read_text() == "keep me" if not dangling else not victim.exists()
    assert _names(tmp_path) == sorted(["out.txt"] + ([] if dangling else ["victim.txt"]))


def test_write_to_a_folder_or_a_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(UserError, match="is a folder, not a file"):
        write_text(tmp_path / "d", "x")
    with pytest.raises(FileNotFoundError) as info:
        write_text(tmp_path / "missing" / "f.txt", "x")
    assert info.value.filename == str(tmp_path / "missing" / "f.txt")  # not the temporary


# --------------------------------------------------------------------------- reading a folder


def test_folder_file_stays_inside_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "summary.json").write_text("{}")
    (folder / "alias.json").symlink_to("summary.json")  # a link within the folder is fine
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    (folder / "out.json").symlink_to(secret)
    (folder / "dangling.json").symlink_to(tmp_path / "nothing")
    (folder / "loop.json").symlink_to("loop.json")
    (folder / "sub.json").mkdir()
    os.mkfifo(folder / "fifo.json")

    assert folder_file(folder, "summary.json") == folder / "summary.json"
    assert folder_file(folder, "alias.json") == folder / "alias.json"
    assert folder_file(folder, "absent.json") is None
    for name in ("out.json", "dangling.json", "loop.json"):
        with pytest.raises(UserError, match="link to a file outside the folder"):
            folder_file(folder, name)
    for name in ("sub.json", "fifo.json"):
        with pytest.raises(UserError, match="not a regular file"):
            folder_file(folder, name)
    assert read_folder_file(folder, "summary.json", 2) == b"{}"
    with pytest.raises(UserError, match="too large"):
        read_folder_file(folder, "summary.json", 1)


# --------------------------------------------------------------------------- staged folders


def test_staged_folder_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "run"
    with pytest.raises(RuntimeError), staged_folder(target) as tmp:
        write_text(tmp / "a.txt", "a")
        assert _names(tmp.parent) == sorted([tmp.name, tmp.name + LOCK_SUFFIX])
        raise RuntimeError("interrupted")
    assert _names(tmp_path) == []  # the parents it created are gone too
    with staged_folder(target) as tmp:
        write_text(tmp / "a.txt", "a")
    assert _names(target.parent) == ["run"] and _names(target) == ["a.txt"]


def test_staged_folder_refuses_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(UserError, match="is a symbolic link"), staged_folder(link):
        pass
    assert _names(tmp_path) == ["link", "real"] and _names(real) == []


def test_orphans_without_a_lock_are_removed_and_others_kept(tmp_path: Path) -> None:
    orphan = tmp_path / ".run.tmp-0123abcd"  # e.g. left by an xpusim without lock files
    orphan.mkdir()
    (orphan / "summary.json").write_text("{}")
    lonely_lock = tmp_path / (".run.tmp-89abcdef" + LOCK_SUFFIX)  # killed before its folder
    lonely_lock.write_text("")
    keep = [
        tmp_path / ".run.tmp-notahexx",  # not our name pattern
        tmp_path / "run.tmp-0123abcd",  # not hidden
        tmp_path / ".runs.parquet.tmp-0123abcd",  # an atomic write's temporary file
    ]
    keep[0].mkdir()
    keep[1].mkdir()
    keep[2].write_text("")
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / ".x.tmp-fedcba98"  # a link with our name: never followed or removed
    link.symlink_to(target)
    (target / "precious").write_text("x")

    removed = remove_stale_folders(tmp_path)
    assert removed == [tmp_path / ".run.tmp-0123abcd", tmp_path / ".run.tmp-89abcdef"]
    assert _names(tmp_path) == sorted([p.name for p in keep] + [link.name, "elsewhere"])
    assert (target / "precious").exists()


def _start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen(
        [sys.executable, "-m", "sim", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for_temporary(parent: Path, name: str, proc: subprocess.Popen[bytes]) -> Path:
    """The locked temporary folder of the run writing ``parent/name``, once it exists."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = [
            p
            for p in parent.glob(f".{name}.tmp-*")
            if p.is_dir() and p.with_name(p.name + LOCK_SUFFIX).is_file()
        ]
        if found:
            lock = found[0].with_name(found[0].name + LOCK_SUFFIX)
            if lock.read_text().strip():  # the owner has recorded itself
                return found[0]
        assert proc.poll() is None, (proc.stderr.read() if proc.stderr else b"").decode()
        time.sleep(0.05)
    raise AssertionError(f"no temporary folder for {name} appeared")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=WAIT_S)
    if proc.stderr:
        proc.stderr.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_next_run_removes_a_killed_runs_temporary_folder_but_not_a_live_one(
    tmp_path: Path,
) -> None:
    from sim.accounting.runner import RunOutput
    from sim.results.run_folder import write_run
    from tests.test_runfolder import _loaded

    parent = tmp_path / "results"
    parent.mkdir()
    scenario = str(ROOT / "scenarios" / "baseline.yaml")
    # the full baseline runs for a minute or more: both are surely mid-run when caught
    killed = _start(["run", scenario, "--out", str(parent / "killed"), "-q"], tmp_path)
    live = _start(["run", scenario, "--out", str(parent / "live"), "-q"], tmp_path)
    try:
        dead_tmp = _wait_for_temporary(parent, "killed", killed)
        live_tmp = _wait_for_temporary(parent, "live", live)
        owner = json.loads(live_tmp.with_name(live_tmp.name + LOCK_SUFFIX).read_text())
        assert owner["pid"] == live.pid and owner["host"]
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=WAIT_S)
        assert killed.returncode == -signal.SIGKILL
        assert dead_tmp.is_dir(), "SIGKILL leaves the temporary folder behind"

        folder = write_run(parent / "next", _loaded(), 0, lambda: RunOutput({}, {}))

        assert folder.is_dir()
        assert not dead_tmp.exists()
        assert not dead_tmp.with_name(dead_tmp.name + LOCK_SUFFIX).exists()
        assert live_tmp.is_dir(), "the temporary folder of a live run is left alone"
        assert live.poll() is None
        assert _names(parent) == sorted(["next", live_tmp.name, live_tmp.name + LOCK_SUFFIX])
    finally:
        _stop(killed)
        _stop(live)
    # once its owner is gone too, the next run cleans up after it as well
    write_run(parent / "last", _loaded(), 0, lambda: RunOutput({}, {}))
    assert _names(parent) == ["last", "next"]


def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "scenario.yaml"
    target.write_text("old")
    target.chmod(0o640)
    write_text(target, "new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640


def test_sweep_folder_files_are_not_followed_out(tmp_path: Path) -> None:
    from sim.results.journal import Journal, read_journal
    from sim.results.sweep_folder import read_sweep_manifest

    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"kind": "sweep"}\n')
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "runs.jsonl").symlink_to(outside)
    (folder / "manifest.json").symlink_to(outside)
    with pytest.raises(UserError, match=r"journal .* is a symbolic link"):
        Journal(folder / "runs.jsonl")
    with pytest.raises(UserError, match=r"journal .* is a symbolic link"):
        read_journal(folder / "runs.jsonl")
    with pytest.raises(UserError, match="link to a file outside the folder"):
        read_sweep_manifest(folder)
    assert outside.read_text() == '{"kind": "sweep"}\n'


def test_without_file_locks_runs_work_and_nothing_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import sim.safeio

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(sim.safeio.fcntl, "flock", no_locks)
    orphan = tmp_path / ".run.tmp-0123abcd"  # whose owner cannot be told apart from a live one
    orphan.mkdir()
    with staged_folder(tmp_path / "run") as tmp:
        write_text(tmp / "a.txt", "a")
        assert remove_stale_folders(tmp_path) == []
    assert _names(tmp_path) == [orphan.name, "run"]
