"""Episodes of out-of-range windows, and the Flag and RiskAssessment written for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scoring.assessments import Episode, episodes, flag

H = timedelta(hours=1)
T = datetime(2026, 12, 2, tzinfo=UTC)


def judged(pattern: str) -> list[tuple[datetime, datetime, list[str]]]:
    """One window per character: 'x' out of range, '.' in range."""
    return [
        (T + i * H, T + (i + 1) * H, ["NEWS2 6"] if c == "x" else []) for i, c in enumerate(pattern)
    ]


def test_one_episode_closes_after_the_recovery_time() -> None:
    found = episodes(judged("..xxx.x...."), recovery=2 * H)
    # windows 2-6 out of range (one in-range window inside is shorter than the recovery),
    # closed at the end of window 8, two hours after window 6 ended.
    assert found == [Episode(T + 2 * H, T + 7 * H, ["NEWS2 6"], T + 9 * H)]


def test_an_episode_still_open_and_two_separate_ones() -> None:
    assert episodes(judged("x...x"), recovery=2 * H) == [
        Episode(T, T + H, ["NEWS2 6"], T + 3 * H),
        Episode(T + 4 * H, T + 5 * H, ["NEWS2 6"], None),
    ]
    assert episodes(judged("....."), recovery=H) == []


def test_flag_of_an_episode() -> None:
    active = flag("p1", T, T + H, ["NEWS2 6"], None)
    assert active["status"] == "active" and "end" not in active["period"]
    assert active["identifier"][0]["value"] == "p1/episode/2026-12-02T00:00:00Z"
    closed = flag("p1", T, T + H, ["NEWS2 6"], T + 3 * H)
    assert (closed["status"], closed["period"]["end"]) == ("inactive", "2026-12-02T03:00:00Z")
    assert closed["identifier"] == active["identifier"]
