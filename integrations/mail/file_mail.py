"""Mail as `.eml` files under a folder (the embedded default: `var/mail/`)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from integrations.mail.models import MailMessage, to_mime


class FileMail:
    """`Mail` that writes each message as an `.eml` file, named after its key (a retry
    rewrites the same file: one file per mail)."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self._sender = sender

    def path_of(self, message: MailMessage) -> Path:
        """The file MESSAGE is written to."""
        digest = hashlib.sha256(message.key.encode()).hexdigest()[:24]
        return self.folder / f"{digest}.eml"

    def _write(self, message: MailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.path_of(message)
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(bytes(to_mime(message, self._sender)))
        os.chmod(partial, 0o600)  # health data: the clinic's eyes only
        partial.replace(path)

    async def send(self, message: MailMessage) -> None:
        """Write MESSAGE (in a thread: file I/O stays off the event loop)."""
        await asyncio.to_thread(self._write, message)
