"""Score vignette sets one-shot through `carebot triage --json` of any clone.

Usage: score.py PATH... [--repo CLONE] [--rev REV | --worktree] [--misses]

PATH is a batch file or a folder of them. Each vignette goes through the `carebot` CLI's own
`main(["triage", "--json", "--lang", LANG, "--", TEXT])` in one worker process started from
CLONE/.venv/bin/python (one process for all cases). By default the code scored is the clone's
committed HEAD (or `--rev REV`, e.g. `main`), exported with `git archive` to a temporary folder
that comes first on the worker's path; `--worktree` scores the working tree instead. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

THREE_WAY = {
    "emergency_ambulance": "emergency",
    "emergency": "emergency",
    "consultation_24": "see_doctor",
    "consultation": "see_doctor",
    "self_care": "self_care",
}
OUTCOMES = ("emergency", "see_doctor", "self_care")

# Runs inside the clone's venv: one JSON line in (lang, text), one JSON line out (level).
WORKER = r"""
import contextlib, io, json, sys
sys.path.insert(0, ".")
import bot.cli
from bot.cli import main
sys.__stdout__.write(json.dumps({"loaded_from": bot.cli.__file__}) + "\n")
for line in sys.stdin:
    case = json.loads(line)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["triage", "--json", "--lang", case["lang"], "--", case["text"]])
    printed = out.getvalue().strip().splitlines()
    level = json.loads(printed[-1]).get("level", "") if code == 0 and printed else ""
    sys.__stdout__.write(json.dumps({"level": level, "exit": code}) + "\n")
    sys.__stdout__.flush()
"""


@dataclass(frozen=True)
class Vignette:
    """One case as written in a batch file."""

    id: str
    lang: str
    text: str
    disposition: str
    expected: str


@dataclass(frozen=True)
class Scored:
    """One case and the engine's answer."""

    case: Vignette
    level: str

    @property
    def outcome(self) -> str:
        return THREE_WAY.get(self.level, "invalid")


def load(paths: list[Path]) -> list[Vignette]:
    """All vignettes of the given batch files or folders, in file order."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    cases: list[Vignette] = []
    for file in files:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        for v in data["vignettes"]:
            cases.append(
                Vignette(
                    id=str(v["id"]),
                    lang=str(v["lang"]),
                    text=" ".join(str(v["text"]).split()),
                    disposition=str(v["disposition"]),
                    expected=str(v["expected"]),
                )
            )
    return cases


def run(repo: Path, code: Path, cases: list[Vignette]) -> list[Scored]:
    """Triage every case one-shot with the code at `code` in the venv of the clone `repo`."""
    python = repo / ".venv" / "bin" / "python"
    if not python.exists():
        sys.exit(f"error: {python} not found (make .venv/.installed in {repo})")
    feed = "".join(json.dumps({"lang": c.lang, "text": c.text}) + "\n" for c in cases)
    done = subprocess.run(
        [str(python), "-c", WORKER],
        cwd=code,
        input=feed,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.splitlines()
    if done.returncode != 0 or len(lines) != len(cases) + 1:
        sys.exit(f"error: worker failed ({done.returncode}): {done.stderr[-2000:]}")
    loaded = Path(json.loads(lines[0])["loaded_from"]).resolve()
    if not loaded.is_relative_to(code.resolve()):
        sys.exit(f"error: the worker imported {loaded}, not the code under {code}")
    answers = lines[1:]
    return [Scored(c, json.loads(line)["level"]) for c, line in zip(cases, answers, strict=True)]


def export_rev(repo: Path, rev: str, into: Path) -> None:
    """Write the clone's committed revision `rev` (not its working tree) into `into`."""
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", rev], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)


def summary(scored: list[Scored]) -> dict[str, object]:
    """Accuracy figures of a list of scored cases."""
    n = len(scored)
    if n == 0:
        return {"n": 0}
    by_class = Counter(s.case.expected for s in scored)
    right = Counter(s.case.expected for s in scored if s.outcome == s.case.expected)
    self_care = [s for s in scored if s.case.expected == "self_care"]
    return {
        "n": n,
        "exact": round(sum(s.level == s.case.disposition for s in scored) / n, 3),
        "three_way": round(sum(s.outcome == s.case.expected for s in scored) / n, 3),
        "recall": {k: round(right[k] / by_class[k], 3) for k in OUTCOMES if by_class[k]},
        "emergencies_caught": f"{right['emergency']}/{by_class['emergency']}",
        "self_care_over_triage": round(
            sum(s.outcome != "self_care" for s in self_care) / len(self_care), 3
        )
        if self_care
        else None,
    }


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    return done.stdout.strip()


def main() -> None:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="batch files or folders")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="clone to score")
    parser.add_argument("--rev", default="HEAD", help="committed revision to score (HEAD)")
    parser.add_argument("--worktree", action="store_true", help="score uncommitted code too")
    parser.add_argument("--misses", action="store_true", help="list the misses")
    args = parser.parse_args()
    repo = args.repo.resolve()
    rev = "HEAD" if args.worktree else args.rev
    cases = load(args.paths)
    if args.worktree:
        scored = run(repo, repo, cases)
    else:
        with tempfile.TemporaryDirectory(prefix="score-head-") as tmp:
            export_rev(repo, args.rev, Path(tmp))
            scored = run(repo, Path(tmp), cases)
    out: dict[str, object] = {
        "sets": [str(p) for p in args.paths],
        "repo": str(repo),
        "commit": _git(repo, "rev-parse", "--short", rev),
        "branch": _git(repo, "rev-parse", "--abbrev-ref", rev),
        "code": "worktree" if args.worktree else f"committed {args.rev}",
        **summary(scored),
        "per_language": {
            lang: summary([s for s in scored if s.case.lang == lang])
            for lang in sorted({s.case.lang for s in scored})
        },
    }
    if args.misses:
        out["misses"] = [
            {"id": s.case.id, "expected": s.case.disposition, "got": s.level or "error"}
            for s in scored
            if s.outcome != s.case.expected
        ]
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
