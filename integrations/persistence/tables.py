"""Core tables of the bot process: bot state documents, accounts, web sessions, sign-in
throttling. The local Direct Line channel's tables are the bot's own (`bot/directline/tables.py`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from integrations.persistence.database import Base


class BotStateRow(Base):
    """One state document under a key, with an e_tag (the bot keeps its conversation and user
    state here through `bot/bot_storage.py`)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    etag: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccountRow(Base):
    """A person who signs in: patient, provider or care manager."""

    __tablename__ = "account"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(256))
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    fhir_reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebSessionRow(Base):
    """A browser sign-in (portal or staff); sign-out revokes it for every process at once."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), ForeignKey("account.id"), index=True)
    area: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SignInThrottleRow(Base):
    """Failed sign-ins counted per key (a hashed username or address) in a fixed window."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[int] = mapped_column(BigInteger, index=True)
