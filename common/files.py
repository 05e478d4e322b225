"""Files written so that a reader never sees half of one and the user's umask applies: atomic
replacement and staging folders. Shared by every room (the engine, the runner, the TUI)."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def staging_dir(parent: Path, prefix: str) -> Path:
    """A new empty folder `parent/<prefix><random>`, for files that are renamed into place together.
    Made by mkdir, so the user's umask sets its mode (mkdtemp's are 0700; asking os.umask for the
    mask would change it for every thread for a moment)."""
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        folder = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            folder.mkdir(0o777)
            return folder
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with exactly `text` (no newline translation): a reader sees the old file or
    the new one, never half of either, and a crash leaves no partial file behind.

    A new file gets the mode the user's umask gives (0644 under 022), as `open()` would; a file
    written again keeps its mode. (mkstemp's temp files are 0600, so it is not used here.)"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        keep_mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        keep_mode = None
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
            break
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
    try:
        if keep_mode is not None:
            os.fchmod(fd, keep_mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a power cut after replace could otherwise lose it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - a platform without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)
