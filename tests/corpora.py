"""Where the shared reference corpora are: `../shared/corpora` or `$CAREBOT_SHARED_DIR/corpora`.

The corpora (spec examples, recorded traffic, test vectors) are not in this repository;
they sit in a `shared/` folder beside it, or wherever `CAREBOT_SHARED_DIR` says. Every
test that reads them asks here, so a clone elsewhere fails with one message that says
what to set, not with an `IndexError` on a path.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

SHARED_DIR_VARIABLE = "CAREBOT_SHARED_DIR"
_REPO = Path(__file__).resolve().parents[1]


class CorporaNotFound(RuntimeError):
    """The shared folder (with its `corpora/`) cannot be found."""


@cache
def shared_dir() -> Path:
    """The shared folder: `$CAREBOT_SHARED_DIR`, else the nearest `shared/` beside the repo
    or one of its parent folders (a clone in `/work/h/NAME` finds `/work/shared`)."""
    configured = os.environ.get(SHARED_DIR_VARIABLE)
    if configured:
        path = Path(configured).expanduser().resolve()
        if not (path / "corpora").is_dir():
            raise CorporaNotFound(f"{SHARED_DIR_VARIABLE}={configured}: no corpora/ folder in it")
        return path
    looked: list[str] = []
    for folder in _REPO.parents:
        candidate = folder / "shared"
        if (candidate / "corpora").is_dir():
            return candidate
        looked.append(str(candidate))
    raise CorporaNotFound(
        "the shared corpora were not found (looked in "
        + ", ".join(looked)
        + f"); set {SHARED_DIR_VARIABLE} to the folder that holds corpora/"
    )


def corpus(*parts: str) -> Path:
    """A file or folder under `shared/corpora/`; `CorporaNotFound` if it is missing."""
    path = shared_dir().joinpath("corpora", *parts)
    if not path.exists():
        raise CorporaNotFound(f"{path} is missing from the shared corpora")
    return path
