"""Checks a service process makes before it starts serving."""

from __future__ import annotations

import logging

from bot.settings import SecretKeyRequiredError, Settings
from integrations.persistence.private_files import secure_tree

log = logging.getLogger(__name__)


def check_before_start(settings: Settings) -> None:
    """Make var/ private (fixing and warning about looser modes); refuse to start without a
    secret key that every process of the deployment shares."""
    for path in secure_tree(settings.var_dir):
        log.warning("%s was readable by other users; it is now private to this one", path)
    try:
        settings.resolved_secret_key()
    except SecretKeyRequiredError as error:
        raise SystemExit(f"carebot cannot start: {error}") from None
