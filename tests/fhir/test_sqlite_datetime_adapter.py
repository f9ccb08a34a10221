"""Importing the FHIR store leaves the process's sqlite3 adapters alone; its engine sets one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_PROBE = """
import sqlite3
from datetime import datetime
key = (datetime, sqlite3.PrepareProtocol)
before = sqlite3.adapters.get(key)  # Python's own (deprecated in 3.12), or none
import integrations.fhir_store, integrations.fhir_store.store, integrations.fhir_store.app
print("after import:", sqlite3.adapters.get(key) is before)
from integrations.persistence.database import create_engine
create_engine("sqlite+aiosqlite:///:memory:")
print("after engine:", sqlite3.adapters[key](datetime(2026, 11, 20, 8, 0)))
"""


def test_importing_the_store_registers_no_sqlite3_adapter() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "after import: True",
        "after engine: 2026-11-20 08:00:00.000000",
    ]
