"""Reading the PhysioNet/CinC 2019 challenge's pipe-separated hourly rows.

The layout of `../shared/corpora/physionet2019/setA.psv.gz`: a header, then one row per
patient-hour, a `patient` column first, then the challenge's 41 columns (`NaN` for missing).
Gzip or plain text. Bad input raises `PsvError` with one line that says what is wrong.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from scoring.stay_features import Floats, Ints, StayRows

VITAL_COLUMNS = ("HR", "O2Sat", "Temp", "SBP", "MAP", "DBP", "Resp")
"""The challenge's columns of MODEL_VITALS, in the same order."""
REQUIRED_COLUMNS = ("patient", *VITAL_COLUMNS, "Age", "Gender", "ICULOS")
LABEL = "SepsisLabel"
FIO2 = "FiO2"


class PsvError(ValueError):
    """A file that is not in the challenge's format."""


@dataclass(frozen=True)
class ChallengeRows:
    """Rows of the challenge in file order, with the columns the model and NEWS2 use."""

    patients: tuple[str, ...]
    """The patient of each row."""
    rows: StayRows
    iculos: Ints
    fio2: Floats
    label: Floats | None
    """SepsisLabel (None when the file has no such column)."""

    @property
    def patient_ids(self) -> list[str]:
        """Each patient once, in order of first appearance."""
        return list(dict.fromkeys(self.patients))


def sha256_of(path: Path) -> str:
    """The file's SHA-256, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PsvError(f"{path}: cannot read ({error.strerror})") from error
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise PsvError(f"{path}: not a readable gzip file") from error
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PsvError(f"{path}: not UTF-8 text") from error


def _positions(patients: list[str], iculos: Floats) -> Ints:
    """Each row's hour index within its patient's stay (rows must be consecutive hours)."""
    position = np.zeros(len(patients), dtype=np.int64)
    for i in range(1, len(patients)):
        position[i] = position[i - 1] + 1 if patients[i] == patients[i - 1] else 0
    return position


def read_challenge_psv(path: Path) -> ChallengeRows:
    """The rows of PATH; PsvError for an empty file, a wrong delimiter, missing columns or
    values that are not numbers."""
    text = _text(path)
    header, _, body = text.partition("\n")
    header = header.strip()
    if not header:
        raise PsvError(f"{path}: empty file")
    if "|" not in header:
        raise PsvError(f"{path}: header is not pipe-separated ('|'), as the challenge's files are")
    names = header.split("|")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise PsvError(f"{path}: missing columns: {', '.join(missing)}")
    if names[0] != "patient":
        raise PsvError(f"{path}: the first column must be 'patient'")
    lines = [line for line in body.splitlines() if line.strip()]
    if not lines:
        raise PsvError(f"{path}: no data rows")
    patients: list[str] = []
    rest: list[str] = []
    for line in lines:
        patient, _, values = line.partition("|")
        patients.append(patient)
        rest.append(values)
    try:
        table = np.loadtxt(io.StringIO("\n".join(rest)), delimiter="|", dtype=np.float64, ndmin=2)
    except ValueError as error:
        raise PsvError(f"{path}: a row is not {len(names)} numbers or NaN ({error})") from error
    if table.shape[1] != len(names) - 1:
        raise PsvError(f"{path}: rows have {table.shape[1] + 1} columns, the header {len(names)}")

    def column(name: str) -> Floats:
        return np.ascontiguousarray(table[:, names.index(name) - 1])

    iculos = column("ICULOS")
    rows = StayRows(
        values=np.column_stack([column(c) for c in VITAL_COLUMNS]),
        position=_positions(patients, iculos),
        age=column("Age"),
        sex=column("Gender"),
        hours_monitored=iculos,
    )
    return ChallengeRows(
        patients=tuple(patients),
        rows=rows,
        iculos=iculos.astype(np.int64),
        fio2=column(FIO2) if FIO2 in names else np.full(len(patients), np.nan),
        label=column(LABEL) if LABEL in names else None,
    )


def subset(data: ChallengeRows, mask: npt.NDArray[np.bool_]) -> ChallengeRows:
    """The rows of DATA where MASK is true (whole patients, so positions stay right)."""
    r = data.rows
    return ChallengeRows(
        patients=tuple(p for p, keep in zip(data.patients, mask, strict=True) if keep),
        rows=StayRows(
            r.values[mask], r.position[mask], r.age[mask], r.sex[mask], r.hours_monitored[mask]
        ),
        iculos=data.iculos[mask],
        fio2=data.fio2[mask],
        label=None if data.label is None else data.label[mask],
    )
