"""The IoMT connector's tables (migration `iomt_0001`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from integrations.persistence.database import Base

_SEQ = BigInteger().with_variant(Integer, "sqlite")


class IomtSourceRow(Base):
    """A registered sender (a wearable cloud, an IoT Hub export, a gateway) and its token."""

    __tablename__ = "iomt_source"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IomtTemplateRow(Base):
    """One loaded pair of device and FHIR mapping templates; one row is active."""

    __tablename__ = "iomt_template"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_json: Mapped[str] = mapped_column(Text)
    fhir_json: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean)


class IomtMessageRow(Base):
    """A message as received (kept whatever becomes of it): pending, normalised, unmatched,
    failed."""

    __tablename__ = "iomt_message"
    __table_args__ = (Index("ix_iomt_message_status", "status", "seq"),)

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[float] = mapped_column(Float)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    template_version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class IomtReadingRow(Base):
    """A normalised measurement on its way to an Observation: pending, quarantined (device not
    paired), written, failed."""

    __tablename__ = "iomt_reading"
    __table_args__ = (
        Index("ix_iomt_reading_status", "status", "id"),
        Index("ix_iomt_reading_device", "device_id", "status"),
    )

    id: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=True)
    message_seq: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(String(256))
    type_name: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    written_at: Mapped[float | None] = mapped_column(Float, nullable=True)
