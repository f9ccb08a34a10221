"""Set-A excerpts for the scoring tests: whole patients, the file's own lines."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.corpora import shared_dir


def setA_path() -> Path:
    return shared_dir() / "corpora" / "physionet2019" / "setA.psv.gz"


def excerpt_lines(patients: int) -> list[str]:
    """The header and every row of the first PATIENTS patients of set A."""
    lines: list[str] = []
    seen: set[str] = set()
    with gzip.open(setA_path(), "rt", encoding="utf-8") as stream:
        lines.append(next(stream))
        for line in stream:
            patient = line.split("|", 1)[0]
            if patient not in seen:
                if len(seen) == patients:
                    break
                seen.add(patient)
            lines.append(line)
    return lines


@pytest.fixture(scope="session")
def setA_excerpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 300 patients of set A (about 11,000 rows) as a plain .psv file."""
    path = tmp_path_factory.mktemp("physionet") / "excerpt.psv"
    path.write_text("".join(excerpt_lines(300)), encoding="utf-8")
    return path
