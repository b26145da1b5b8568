"""CLI commands of the composition layer (compose, validate, run, graph)."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Composition commands are added here (see the composition layer)."""
