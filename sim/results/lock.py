"""One writer per folder: the lock a sweep holds on its folder while it writes it."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.results.jsonio import canonical_json

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK", "FolderBusyError", "FolderLock", "alive"]


LOCK = ".sweep.lock"
"""The lock file of a sweep folder."""
#: Errors of a file system that has no record locks (some network and FUSE file systems).
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP})
#: Folders this process holds the lock of (a POSIX lock does not exclude its own process).
_held: set[str] = set()


def _holder_text(holder: Mapping[str, Any] | None) -> str:
    if not holder:
        return "holder unknown: it is still starting"
    return (
        f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started_utc')}"
    )


class FolderBusyError(UserError):
    """Another process holds the lock of a folder."""


class FolderLock:
    """One writer per folder: an exclusive lock on ``folder/.sweep.lock`` while writing.

    The lock is a POSIX record lock (``fcntl.lockf``) on the file: the OS drops it when
    the holding process ends, however it ends, and unlike ``flock`` it is not inherited by
    the worker processes a sweep forks, so a killed sweep's orphans cannot keep it. The
    file holds the holder's pid, host and start time, for the message a second writer
    gets; it is emptied on release, so a non-empty file whose lock is free was left by a
    process that died: :meth:`acquire` takes it over and returns what it held.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK
        self._fd: int | None = None
        self._key = ""
        #: True when the file system has no locks: the folder is then not guarded
        self.unsupported = False

    def acquire(self, started_utc: str) -> dict[str, Any] | None:
        """Take the lock; the record of a dead previous holder (stale lock), else None.

        Raises :class:`UserError` naming the holder when another process has the lock.
        """
        key = os.path.realpath(self.folder)
        if key in _held:
            raise self._busy("(this process)")
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise UserError(f"cannot open the lock file {self.path}: {exc.strerror}") from None
        try:
            self._lock(fd)
            previous = _read_holder(fd)
            host = socket.gethostname()
            if previous and previous.get("host") != host:
                # another machine on a shared file system: its process cannot be checked
                raise FolderBusyError(
                    f"output folder {self.folder} was locked by {_holder_text(previous)}",
                    hint=f"this machine cannot check that host; if that sweep no longer "
                    f"runs, delete {self.path}",
                )
            self._write_holder(fd, {"pid": os.getpid(), "host": host, "started_utc": started_utc})
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._key = fd, key
        _held.add(key)
        return previous

    def _busy(self, holder: str) -> FolderBusyError:
        return FolderBusyError(
            f"output folder {self.folder} is in use by another sweep {holder}",
            hint="two sweeps must not write one folder: wait for it to finish, or stop it",
        )

    def _lock(self, fd: int) -> None:
        """Lock the open lock file, or note that the file system cannot (``unsupported``)."""
        if fcntl is None:  # pragma: no cover - Windows: no record locks
            self.unsupported = True
            return
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in _NO_LOCKS:  # the sweep runs, unguarded (the caller notes it)
                self.unsupported = True
            elif exc.errno in (errno.EACCES, errno.EAGAIN):
                raise self._busy(f"({_holder_text(_read_holder(fd))})") from None
            else:
                raise UserError(f"cannot lock {self.path}: {exc.strerror}") from None

    def _write_holder(self, fd: int, holder: Mapping[str, Any]) -> None:
        data = (canonical_json(holder) + "\n").encode("utf-8")
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        except OSError as exc:
            raise UserError(f"cannot write the lock file {self.path}: {exc.strerror}") from None

    def release(self) -> None:
        """Empty the lock file and let go (a no-op when not held)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing drops the lock
        self._fd = None
        _held.discard(self._key)


def _read_holder(fd: int) -> dict[str, Any] | None:
    """The holder record in a lock file, None if it is empty or unreadable."""
    try:
        raw = os.pread(fd, 4096, 0)
        value = json.loads(raw) if raw.strip() else None
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def alive(pid: Any) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True
