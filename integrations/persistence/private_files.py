"""Files only the service's own user may read: the SQLite database (and its -wal and -shm),
signing keys, credentials, buffers. Folders are 0700 and files 0600 from the moment they
exist; `secure_tree` repairs a folder made looser by hand or by an older version."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def ensure_private_dir(path: Path) -> None:
    """Create PATH (and missing parents) with mode 0700; an existing folder is left as is."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def create_private_file(path: Path) -> None:
    """Create PATH empty with mode 0600 unless it exists (SQLite then opens it as a new
    database, and gives its -wal and -shm files the same mode)."""
    ensure_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))


def write_private_bytes(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write DATA to a file at PATH that is 0600 before any byte is written; EXCLUSIVE:
    FileExistsError if it exists (so two processes starting at once keep one file)."""
    ensure_private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    descriptor = os.open(path, flags, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def write_private_text(path: Path, text: str, *, exclusive: bool = False) -> None:
    """`write_private_bytes` of TEXT in UTF-8."""
    write_private_bytes(path, text.encode("utf-8"), exclusive=exclusive)


def secure_tree(root: Path) -> list[Path]:
    """Make ROOT and everything under it private (folders 0700, files 0600); return what
    had to be fixed. ROOT is created when missing. Symbolic links are not followed."""
    ensure_private_dir(root)
    fixed: list[Path] = []
    for folder, names, files in os.walk(root):
        here = Path(folder)
        for path in [here, *(here / name for name in files)]:
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
                continue
            path.chmod(stat.S_IMODE(info.st_mode) & ~0o077)  # group and others lose all
            fixed.append(path)
        names[:] = [n for n in names if not (here / n).is_symlink()]
    return fixed
