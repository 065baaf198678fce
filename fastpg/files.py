"""The one atomic file writer, and bounded JSON reading: every file fastpg writes goes through here."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from .limits import MAX_JSON_BYTES


def check_writable_target(path: str | Path) -> Path:
    """``path`` if writing it would create or replace a regular file; ``ValueError`` for anything else.

    A device (``/dev/null``), FIFO, socket, folder or symbolic link is refused: an atomic write
    would replace it by a regular file.
    """
    path = Path(path)
    if not path.name:
        raise ValueError(f"{str(path)!r} is not a file name")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        kind = ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
                else "a device, FIFO or socket")
        raise ValueError(f"refusing to write {path}: it is {kind}, not a regular file")
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a torn one.

    Writes a temporary file in the same folder, flushes it to disk, renames it over ``path`` and
    flushes the folder. The file gets the mode the umask gives a new file (as ``open`` would).
    Refuses a target that is not a regular file (see :func:`check_writable_target`).
    """
    path = check_writable_target(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes the file private
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def fsync_folder(folder: str | Path) -> None:
    """Flush a folder's entries (a rename into it) to disk."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj: Any) -> Path:
    """Atomically write ``obj`` as JSON; floats are written with ``repr`` so they round-trip exactly."""
    return atomic_write_text(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


def read_capped(path: str | Path, max_bytes: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them.

    ``ValueError`` naming ``what`` for a FIFO, device, folder or socket (opened without blocking,
    never read) and for a file larger than ``max_bytes``; ``OSError`` if it cannot be opened.
    """
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{what} {path} is not a regular file")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{what} {path} is larger than {max_bytes} bytes (the limit)")
    return data


def read_json(path: str | Path, what: str) -> Any:
    """Read a JSON file of at most ``MAX_JSON_BYTES``; ``ValueError`` naming ``what`` if unreadable."""
    path = Path(path)
    try:
        return json.loads(read_capped(path, MAX_JSON_BYTES, what).decode("utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{what} {path} is corrupt (not valid JSON: {exc})") from None
