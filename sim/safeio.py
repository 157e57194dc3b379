"""Safe output: no file is written through a symbolic link or left half-written, and no
file is read from outside the folder a command was given.

- :func:`write_file` and :func:`write_text` write every file xpusim produces: the bytes go
  to a fresh temporary file in the target's folder (created exclusively, never through a
  link), are flushed and ``fsync``'d, and then replace the target with :func:`os.replace`.
  A target that is a symbolic link is refused with a :class:`~sim.errors.UserError`.
- :func:`staged_folder` builds a folder that appears complete or not at all (a run folder,
  a sensitivity folder): its files are written into a hidden temporary sibling
  ``.<name>.tmp-<8 hex>`` that is renamed into place at the end. The temporary folder's
  owner holds an ``flock`` on ``.<name>.tmp-<8 hex>.lock`` (which also records its pid and
  host) for as long as it works; the next folder staged in the same parent removes the
  temporary folders whose owner is gone (killed, even by SIGKILL) and leaves those of a
  live owner alone. Where ``fcntl`` is missing (Windows) nothing is locked or removed.
- :func:`visible` shows control characters of user text (keys, names, descriptions) as
  escapes, so that none reaches a page, a figure or a terminal raw.
- :func:`folder_file` names a file of a folder to read, refusing a link that leads out of
  the folder and anything but a regular file.
- :func:`read_user_bytes` reads a file a user names (a scenario, a catalog) at most a
  limit, refusing devices, named pipes and folders before anything is opened.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import re
import secrets
import shutil
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from sim.errors import ScenarioError, UserError, printable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "LOCK_SUFFIX",
    "check_new_folder",
    "check_not_link",
    "file_problem",
    "folder_file",
    "fsync_dir",
    "read_folder_file",
    "read_user_bytes",
    "remove_stale_folders",
    "staged_folder",
    "visible",
    "write_file",
    "write_text",
]

LOCK_SUFFIX = ".lock"
"""Suffix of the lock file next to a temporary folder (``.<name>.tmp-<hex>.lock``)."""

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_TEMP_FOLDER = re.compile(r"\..+\.tmp-[0-9a-f]{8}")
_CLAIM_ATTEMPTS = 8  # random 8-hex names: a clash needs a race, eight in a row never happens


# --------------------------------------------------------------------------- text


def visible(text: str) -> str:
    r"""``text`` with every character Python does not deem printable shown as an escape.

    That is control and format characters (escape, bell, NUL, bidirectional overrides)
    and unassigned code points; tabs and line breaks stay. An escape byte from a key or a
    description becomes the text ``\x1b``, so it reaches no page, figure or terminal raw
    (:func:`sim.errors.printable`, the one home of the rule).

    >>> print(visible("a\x1b[31mb\x07 c\u202ed"))
    a\x1b[31mb\x07 c\u202ed
    >>> visible("tab\tnew\nline"), visible("plain")
    ('tab\tnew\nline', 'plain')
    """
    return printable(text, multiline=True)


# --------------------------------------------------------------------------- checks


def check_not_link(path: Path, what: str = "output") -> None:
    """A :class:`UserError` if ``path`` is a symbolic link (dangling or not)."""
    if path.is_symlink():
        raise UserError(
            f"{what} {path} is a symbolic link; xpusim does not write through links",
            hint="remove the link, or give the path it points to",
        )


def check_new_folder(out: Path, what: str = "output folder") -> None:
    """``out`` can become a new folder: absent, or an empty folder, and not a link."""
    check_not_link(out, what)
    if out.exists() and not out.is_dir():
        raise UserError(f"{what} {out} exists and is not a folder; choose another --out")
    if out.is_dir():
        try:
            empty = not any(out.iterdir())
        except OSError as exc:
            raise UserError(f"cannot use {what} {out}: {exc.strerror or exc}") from exc
        if not empty:
            raise UserError(f"{what} {out} already exists; choose another --out or remove it")


# --------------------------------------------------------------------------- files


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | _CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_file(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` atomically with ``write(handle)``; never through a symbolic link.

    The bytes go to ``.<name>.tmp-<random>`` in the same folder, created exclusively and
    without following links, then are fsync'd and renamed over ``path``. Any failure
    removes the temporary file and leaves ``path`` as it was. A ``path`` that is a link is a
    :class:`UserError`; an operating-system failure is re-raised as an :class:`OSError`
    naming ``path`` (not the temporary file).
    """
    path = Path(path)
    check_not_link(path)
    if path.is_dir():
        raise UserError(f"output {path} is a folder, not a file; choose another path")
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with contextlib.suppress(OSError):  # a replaced file keeps its permissions
            os.fchmod(fd, stat.S_IMODE(os.stat(path, follow_symlinks=False).st_mode))
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # os.replace never follows a link at the target: a link planted since the check
        # above is replaced, not written through
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.filename in (str(tmp), None):
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    fsync_dir(path.parent)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 (``\\n`` line ends) to ``path`` with :func:`write_file`."""
    data = text.encode("utf-8")
    write_file(path, lambda handle: handle.write(data))


# --------------------------------------------------------------------------- reading


def folder_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` if it is a regular file inside ``folder``, None if it is absent.

    A link whose target lies outside ``folder`` (or is missing, or loops) and anything but
    a regular file (a folder, a FIFO, a device) is a :class:`UserError`: a folder's own
    files are all that plot, report and sensitivity read from it.
    """
    path = folder / name
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink():
        try:
            real = path.resolve(strict=True)
            inside = real.is_relative_to(folder.resolve(strict=True))
        except (OSError, RuntimeError):
            inside = False
        if not inside:
            raise UserError(
                f"{path} is a link to a file outside the folder; refusing to read it",
                hint="copy the file into the folder instead of linking to it",
            )
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{path} is not a regular file; refusing to read it")
    return path


def read_folder_file(folder: Path, name: str, limit: int) -> bytes | None:
    """The bytes of :func:`folder_file` ``(folder, name)``, at most ``limit`` (or None)."""
    path = folder_file(folder, name)
    if path is None:
        return None
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise UserError(f"{path} is too large", expected=f"at most {limit:,} bytes", found="more")
    return data


def _not_regular(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is not a regular file, else None."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device (like /dev/zero)"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


_STAT_PROBLEMS = {
    errno.ELOOP: "is a symbolic link loop (the link leads back to itself)",
    errno.ENAMETOOLONG: "has a name that is too long",
    errno.ENOTDIR: "does not exist (a part of its path is not a folder)",
}


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a user's input file, or None if it can.

    Looks without opening: a device or a named pipe is never opened (opening a FIFO would
    wait for a writer; reading /dev/zero never ends).
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "is a broken symbolic link" if os.path.islink(path) else "does not exist"
    except OSError as e:
        known = _STAT_PROBLEMS.get(e.errno) if e.errno is not None else None
        return known or f"cannot be read ({e.strerror or e})"
    except ValueError:  # a NUL byte in the name
        return "has an invalid name (it contains a NUL byte)"
    kind = _not_regular(st.st_mode)
    return None if kind is None else f"is {kind}, not a regular file"


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_user_bytes(path: Path, label: str, limit: int) -> bytes:
    """The bytes of a regular file given by a user, never reading more than ``limit + 1``.

    Devices, named pipes, directories, sockets and symbolic-link loops are refused with a
    message saying which (a :class:`~sim.errors.ScenarioError` naming ``label``); the file
    is checked before it is opened and again (``fstat``) on the open descriptor, which is
    opened non-blocking so that nothing can make it wait. The size is known only by
    reading (``stat`` says 0 for /proc files and devices), so at most one byte more than
    the limit is read to tell a file that is too large.
    """
    problem = file_problem(path)
    if problem is not None:
        if problem == "does not exist":
            raise ScenarioError("file not found", file=label)
        raise ScenarioError(f"the file {problem}", file=label, expected="a regular file")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise ScenarioError(f"cannot read the file: {e.strerror or e}", file=label) from None
    try:
        kind = _not_regular(os.fstat(fd).st_mode)
        if kind is not None:  # replaced between the check and the open
            raise ScenarioError(
                f"the file is {kind}, not a regular file", file=label, expected="a regular file"
            )
        raw = _read_at_most(fd, limit)
    except OSError as e:
        raise ScenarioError(f"cannot read the file: {e.strerror or e}", file=label) from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise ScenarioError(
            "file is too large",
            file=label,
            expected=f"at most {limit:,} bytes",
            found=f"more than {limit:,} bytes",
        )
    return raw


# --------------------------------------------------------------------------- staged folders


class _Owner:
    """The lock file that marks a temporary folder as being worked on by a live process."""

    def __init__(self, path: Path | None, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    def claim(cls, path: Path) -> _Owner | None:
        """Create and lock ``path``; None if another process got there first."""
        if fcntl is None:  # pragma: no cover - Windows: no lock, no clean-up
            return cls(None, None)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
        except FileExistsError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a clean-up found the file first: it will remove it
            os.close(fd)
            return None
        except OSError:
            pass  # a file system without locks: no clean-up can lock it either, so none runs
        if not _same_file(fd, path):
            os.close(fd)
            return None
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        with contextlib.suppress(OSError):
            os.write(fd, (json.dumps(owner) + "\n").encode("utf-8"))
        return cls(path, fd)

    def release(self) -> None:
        """Remove the lock file, then let go of the lock."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.path = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
    except OSError:
        return False


def _claim(parent: Path, name: str) -> tuple[Path, _Owner]:
    """A new, locked temporary folder ``.<name>.tmp-<8 hex>`` in ``parent``.

    The lock file is created and locked before the folder, and removed after the folder
    is renamed away or removed: a temporary folder without a lock file, or whose lock file
    nobody holds, belongs to nobody.
    """
    for _ in range(_CLAIM_ATTEMPTS):
        tmp = parent / f".{name}.tmp-{secrets.token_hex(4)}"
        owner = _Owner.claim(tmp.with_name(tmp.name + LOCK_SUFFIX))
        if owner is None:
            continue
        try:
            tmp.mkdir()
        except FileExistsError:
            owner.release()
            continue
        except BaseException:
            owner.release()
            raise
        return tmp, owner
    raise OSError(f"no free temporary folder name in {parent}")  # pragma: no cover


def _remove_if_stale(parent: Path, name: str) -> bool:
    """Remove the temporary folder ``parent/name`` and its lock file if nobody holds it."""
    assert fcntl is not None
    lock = parent / (name + LOCK_SUFFIX)
    created = False
    try:
        fd = os.open(lock, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except FileNotFoundError:
        # the owner creates its lock before the folder and removes it only after the
        # folder is gone: a folder without one is an orphan; lock it ourselves to remove it
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
        except OSError:
            return False
        created = True
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:  # its owner is still running, or locks are not supported
            if created and not isinstance(exc, BlockingIOError):
                with contextlib.suppress(OSError):
                    lock.unlink()
            return False
        if not _same_file(fd, lock):
            return False  # the owner finished and removed it meanwhile
        folder = parent / name
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            lock.unlink()
        return not folder.exists()
    finally:
        os.close(fd)


def remove_stale_folders(parent: Path) -> list[Path]:
    """Remove the temporary folders in ``parent`` left by killed xpusim processes.

    Only hidden ``.<name>.tmp-<8 hex>`` folders (never links) and their lock files are
    considered, and only those whose owner no longer holds its lock. Returns the folders
    removed. Never raises for a folder it cannot read or remove.
    """
    if fcntl is None:  # pragma: no cover - Windows
        return []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return []
    names: set[str] = set()
    for entry in entries:
        try:
            if entry.name.endswith(LOCK_SUFFIX):
                stem = entry.name.removesuffix(LOCK_SUFFIX)
                if _TEMP_FOLDER.fullmatch(stem) and entry.is_file(follow_symlinks=False):
                    names.add(stem)
            elif _TEMP_FOLDER.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
                names.add(entry.name)
        except OSError:
            continue
    return [parent / n for n in sorted(names) if _remove_if_stale(parent, n)]


def _make_parents(folder: Path, what: str) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, deepest first."""
    missing: list[Path] = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(f"cannot write {what}: {probe} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_empty(missing)
        raise UserError(
            f"cannot create output folder {folder}: {exc.strerror or exc}",
            hint="choose another --out",
        ) from exc
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        try:
            folder.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def staged_folder(target: Path, what: str = "run folder") -> Iterator[Path]:
    """A temporary folder whose contents appear at ``target`` when the block ends.

    ``target`` must be absent or an empty folder, and not a link (checked on entry, before
    any work). Missing parents are created. On entry, stale temporary folders of killed
    processes in the same parent are removed. If the block raises (or is interrupted),
    the temporary folder and the parents this call created are removed and the exception
    propagates; nothing is left behind.
    """
    target = Path(target)
    check_new_folder(target)
    parent = target.parent
    created = _make_parents(parent, what)
    remove_stale_folders(parent)
    try:
        tmp, owner = _claim(parent, target.name)
    except OSError as exc:
        _remove_empty(created)
        raise UserError(
            f"cannot write to output folder {parent}: {exc.strerror or exc}",
            hint="choose another --out",
        ) from exc
    try:
        yield tmp
        fsync_dir(tmp)
        if target.is_symlink() or target.exists():  # appeared while we were working
            check_new_folder(target)
        os.replace(tmp, target)
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        owner.release()
        _remove_empty(created)
        raise
    owner.release()
