"""The Engine of this process, shared by the API routes and the dashboard pages.

`tailor up` opens one Engine and registers it here for the lifetime of the server; the
dashboard and the API read it with `current()`.
"""

from __future__ import annotations

import threading

from engine.engine import Engine

_lock = threading.Lock()
_engine: Engine | None = None


def register(engine: Engine) -> None:
    """Make `engine` the process's Engine."""
    global _engine
    with _lock:
        _engine = engine


def unregister() -> None:
    """Forget the process's Engine (it is being closed)."""
    global _engine
    with _lock:
        _engine = None


def current() -> Engine | None:
    """The process's Engine, or None when no server has opened one."""
    return _engine
