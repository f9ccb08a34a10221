"""Mail as `.eml` files under a folder (the embedded default: `var/mail/`)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from integrations.mail.models import MailMessage, to_mime
from integrations.persistence.private_files import write_private_bytes


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
        path = self.path_of(message)
        partial = path.with_suffix(".eml.part")
        # health data: the file is the clinic's eyes only from its first byte
        write_private_bytes(partial, bytes(to_mime(message, self._sender)))
        partial.replace(path)

    async def send(self, message: MailMessage) -> None:
        """Write MESSAGE (in a thread: file I/O stays off the event loop)."""
        await asyncio.to_thread(self._write, message)
