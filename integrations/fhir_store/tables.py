"""Tables of the embedded FHIR store (created by the `fhir` Alembic branch).

All instants are naive UTC. `fhir_version.seq` is the change-feed position: it is taken
from the single `fhir_clock` row, whose row lock every write transaction holds until it
commits, so sequence order is commit order on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from integrations.persistence.database import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class FhirClockRow(Base):
    """A row writers lock: last sequence number and last instant used. Row 1 orders the
    clinical writes (the change feed); row 2 the store's own AuditEvents (fhir_0007)."""

    __tablename__ = "fhir_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime] = mapped_column(DateTime)


class FhirResourceRow(Base):
    """The current state of one resource (its content is the current version row)."""

    __tablename__ = "fhir_resource"
    __table_args__ = (Index("ix_fhir_resource_updated", "res_type", "last_updated"),)

    res_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    res_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer)
    last_updated: Mapped[datetime] = mapped_column(DateTime)
    deleted: Mapped[bool] = mapped_column(Boolean)
    patient: Mapped[str | None] = mapped_column(String(128), nullable=True)


class FhirVersionRow(Base):
    """One version of one resource, in change-feed order; content is None for a delete."""

    __tablename__ = "fhir_version"
    __table_args__ = (
        UniqueConstraint("res_type", "res_id", "version_id", name="uq_fhir_version"),
        Index("ix_fhir_version_type_seq", "res_type", "seq"),
        Index("ix_fhir_version_updated", "last_updated"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    res_type: Mapped[str] = mapped_column(String(64))
    res_id: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(Integer)
    last_updated: Mapped[datetime] = mapped_column(DateTime)
    method: Mapped[str] = mapped_column(String(8))
    content: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the compartment this version lies in (a deletion: the one it left), fhir_0007
    patient: Mapped[str | None] = mapped_column(String(128), nullable=True)


class FhirSearchRow(Base):
    """One indexed value of one search parameter of a current resource."""

    __tablename__ = "fhir_search"
    # Date rows have no value, so `value IS NULL` plus a range on `low` uses the value index.
    # The patient index is in time order (rows of dated types carry the resource's date):
    # a bulk load appends to one place per patient instead of one per parameter and value.
    __table_args__ = (
        Index("ix_fhir_search_value", "res_type", "param", "value", "low"),
        Index("ix_fhir_search_patient", "patient", "res_type", "low", "param", "value"),
        Index("ix_fhir_search_res", "res_type", "res_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    res_type: Mapped[str] = mapped_column(String(64))
    res_id: Mapped[str] = mapped_column(String(64))
    param: Mapped[str] = mapped_column(String(64))
    patient: Mapped[str | None] = mapped_column(String(128), nullable=True)
    system: Mapped[str | None] = mapped_column(String(512), nullable=True)
    value: Mapped[str | None] = mapped_column(String(512), nullable=True)
    low: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    high: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # number and quantity values (a Range: its low and high), fhir_0009
    number_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    number_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    # a string's exact text, a token's display, a composite's second part (extract.py)
    text: Mapped[str | None] = mapped_column(String(512), nullable=True)


class FhirLatestRow(Base):
    """The newest Observation of one patient per code (by date, then id): `$lastn` reads it.

    Kept on write; `system` is "" for a code without one.
    """

    __tablename__ = "fhir_latest"
    __table_args__ = (Index("ix_fhir_latest_res", "res_id"),)

    patient: Mapped[str] = mapped_column(String(128), primary_key=True)
    system: Mapped[str] = mapped_column(String(512), primary_key=True)
    code: Mapped[str] = mapped_column(String(512), primary_key=True)
    res_id: Mapped[str] = mapped_column(String(64))
    low: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class FhirClientRow(Base):
    """A registered API client with its SMART scopes (and bound patient for patient/ scopes)."""

    __tablename__ = "fhir_client"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    scopes: Mapped[str] = mapped_column(Text)
    patient: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # SMART App Launch (smart_0001): redirect URIs (space-separated), JWKS (JSON) or its URL
    redirect_uris: Mapped[str | None] = mapped_column(Text, nullable=True)
    jwks: Mapped[str | None] = mapped_column(Text, nullable=True)
    jwks_url: Mapped[str | None] = mapped_column(Text, nullable=True)


class FhirClientTokenRow(Base):
    """A bearer token of a client, kept only as its SHA-256; refused from EXPIRES_AT on."""

    __tablename__ = "fhir_client_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), ForeignKey("fhir_client.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class FhirImportRow(Base):
    """Progress of one import file, so an interrupted import resumes where it stopped."""

    __tablename__ = "fhir_import"

    file_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    done: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class SmartCodeRow(Base):
    """A SMART authorization code (its SHA-256): one use, short lived, bound to the client,
    its redirect URI and the PKCE challenge; what the person approved."""

    __tablename__ = "smart_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), ForeignKey("fhir_client.id"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(Text)
    patient: Mapped[str | None] = mapped_column(String(128), nullable=True)
    person: Mapped[str] = mapped_column(String(64))
    practitioner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    fhir_user: Mapped[str | None] = mapped_column(String(128), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class SmartRefreshRow(Base):
    """A SMART refresh token (its SHA-256); each use replaces it with a new one of the same
    family, and a replayed one revokes the family."""

    __tablename__ = "smart_refresh"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(64), ForeignKey("fhir_client.id"))
    scope: Mapped[str] = mapped_column(Text)
    patient: Mapped[str | None] = mapped_column(String(128), nullable=True)
    person: Mapped[str] = mapped_column(String(64))
    practitioner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    fhir_user: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class SmartJtiRow(Base):
    """A client assertion's `jti`, kept until the assertion expires: a replay is refused."""

    __tablename__ = "smart_jti"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class SmartKeyRow(Base):
    """The service's RSA key signing OpenID Connect id_tokens (made on first use)."""

    __tablename__ = "smart_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


# Short names the query builders use.
R = FhirResourceRow
V = FhirVersionRow
S = FhirSearchRow
L = FhirLatestRow
