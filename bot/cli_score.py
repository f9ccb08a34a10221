"""`carebot score`: scoring's own commands, plus `run`, the worker on the service's FHIR store."""

from __future__ import annotations

import argparse

from scoring.cli import configure as configure_scoring


def configure(score: argparse.ArgumentParser) -> None:
    """train / evaluate / predict from `scoring.cli`."""
    configure_scoring(score)
