"""Mail over SMTP (aiosmtplib): `smtp://[user:password@]host[:port]` (STARTTLS when the
server offers it) or `smtps://` (TLS from the start)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiosmtplib

from integrations.mail.models import MailError, MailMessage, to_mime


@dataclass(frozen=True)
class SmtpConfig:
    """Where to hand mail over."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """Parse CAREBOT_SMTP_URL (ValueError when it is not an smtp:// or smtps:// URL)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("CAREBOT_SMTP_URL must look like smtp://host:port")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


class SmtpMail:
    """`Mail` through an SMTP server."""

    def __init__(self, config: SmtpConfig, sender: str, timeout_s: float = 30.0) -> None:
        self._config = config
        self._sender = sender
        self._timeout = timeout_s

    async def send(self, message: MailMessage) -> None:
        """Hand MESSAGE to the server."""
        config = self._config
        try:
            await aiosmtplib.send(
                to_mime(message, self._sender),
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.tls,
                start_tls=None if not config.tls else False,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPException as error:
            raise MailError(f"the SMTP server refused the mail: {type(error).__name__}") from error
