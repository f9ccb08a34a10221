"""The newest Observation per patient and code (`fhir_latest`): kept on write, read by
`$lastn` (async I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from integrations.fhir_store.inserts import upsert_latest
from integrations.fhir_store.params import SEARCH_PARAMS
from integrations.fhir_store.query import TokenValue, parse_token
from integrations.fhir_store.records import EARLIEST, SearchRow
from integrations.fhir_store.sql import NEWEST_FIRST, L, S, index_rows, token_condition

# (patient, system, code) of the fhir_latest table
LatestKey = tuple[str, str, str]


def latest_candidates(
    rows: Sequence[SearchRow],
) -> list[tuple[LatestKey, tuple[datetime, str]]]:
    """The `fhir_latest` keys an Observation's search rows compete for, with its rank (pure)."""
    return [
        ((patient, system or "", value), (low or EARLIEST, res_id))
        for res_type, res_id, param, patient, system, value, low, *_ in rows
        if param == "code" and res_type == "Observation" and patient and value
    ]


def latest_rows(latest: dict[LatestKey, tuple[datetime, str]]) -> list[dict[str, Any]]:
    """`fhir_latest` rows of the keys and ranks in LATEST (pure)."""
    return [
        {"patient": p, "system": s, "code": c, "res_id": rid}
        | {"low": None if low == EARLIEST else low}
        for (p, s, c), (low, rid) in latest.items()
    ]


def keep_newest(
    latest: dict[LatestKey, tuple[datetime, str]],
    candidates: Sequence[tuple[LatestKey, tuple[datetime, str]]],
) -> None:
    """Keep in LATEST the higher-ranked (date, then id) of each key's candidates (pure)."""
    for key, rank in candidates:
        if key not in latest or rank > latest[key]:
            latest[key] = rank


async def recompute_latest(
    session: AsyncSession, unlatest: set[str], latest: dict[LatestKey, tuple[datetime, str]]
) -> None:
    """Find again, from the index, the newest Observation of each key whose newest (one of
    UNLATEST) lost its rows; the finds join LATEST."""
    keys = (
        await session.execute(
            delete(L).where(L.res_id.in_(unlatest)).returning(L.patient, L.system, L.code)
        )
    ).all()
    unlatest = set()
    code = SEARCH_PARAMS["Observation"]["code"]
    for patient, system, value in keys:
        row = (
            await session.execute(
                select(S.res_id, S.low)
                .where(
                    *index_rows("Observation", code, patient),
                    token_condition(TokenValue(system, value)),
                )
                .order_by(*NEWEST_FIRST)
                .limit(1)
            )
        ).one_or_none()
        if row is not None:
            rank = (row.low or EARLIEST, row.res_id)
            keep_newest(latest, [((patient, system, value), rank)])


async def merge_latest(
    session: AsyncSession, latest: dict[LatestKey, tuple[datetime, str]]
) -> None:
    """One upsert per key of LATEST, kept only where the new reading ranks higher."""
    await upsert_latest(session, latest_rows(latest))


def latest_token(token: TokenValue) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if token.code is not None:
        conditions.append(L.code == token.code)
    if token.system is not None:
        conditions.append(L.system == token.system)
    return and_(*conditions)


async def latest_ids(
    session: AsyncSession, patient: str, tokens: list[TokenValue], category: str | None
) -> tuple[set[str], list[TokenValue]]:
    """Ids of the newest Observation per code, and the codes whose newest is off CATEGORY."""
    stmt = select(L.system, L.code, L.res_id).where(L.patient == patient)
    if tokens:
        stmt = stmt.where(or_(*[latest_token(t) for t in tokens]))
    latest = (await session.execute(stmt)).all()
    if category is None or not latest:
        return {r.res_id for r in latest}, []
    ids = {r.res_id for r in latest}
    inside = set(
        (
            await session.execute(
                select(S.res_id).where(
                    S.res_type == "Observation",
                    S.res_id.in_(ids),
                    S.param == "category",
                    token_condition(parse_token(category)),
                )
            )
        ).scalars()
    )
    outside = [TokenValue(r.system, r.code) for r in latest if r.res_id not in inside]
    return inside, outside


async def ranked_ids(
    session: AsyncSession,
    patient: str,
    tokens: list[TokenValue],
    max_per_code: int,
    category: str | None,
) -> set[str]:
    """Ids of the newest MAX_PER_CODE Observations per code, ranked from the index rows."""
    params = SEARCH_PARAMS["Observation"]
    conditions = index_rows("Observation", params["code"], patient)
    if tokens:
        conditions.append(or_(*[token_condition(t) for t in tokens]))
    if category:
        conditions.append(
            S.res_id.in_(
                select(S.res_id).where(
                    *index_rows("Observation", params["category"], patient),
                    token_condition(parse_token(category)),
                )
            )
        )
    ranked = (
        select(
            S.res_id,
            func.row_number()
            .over(
                partition_by=(S.system, S.value),
                order_by=NEWEST_FIRST,
            )
            .label("rank"),
        )
        .where(*conditions)
        .subquery()
    )
    stmt = select(ranked.c.res_id).where(ranked.c.rank <= max_per_code)
    return set((await session.execute(stmt)).scalars())
