"""Seeded synthetic sample store (users, items, interactions, A/B exposures) for Tailor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.sample.generator import generate

__all__ = ["generate"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m engine.sample.generator` does not import the module twice.
    if name == "generate":
        from engine.sample.generator import generate

        return generate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
