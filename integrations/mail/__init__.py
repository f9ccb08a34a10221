"""Outgoing mail: the `Mail` Protocol and its adapters (`.eml` files, SMTP)."""

from integrations.mail.models import Attachment, Mail, MailMessage

__all__ = ["Attachment", "Mail", "MailMessage"]
