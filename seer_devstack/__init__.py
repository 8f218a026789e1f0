# pyright: standard
"""Docker-free local Supabase-compatible stack (optional extra: ``seer-client[devstack]``).

``DevStack`` is imported lazily so that ``seer_devstack.postgres`` (the test harness)
does not need the gateway's libraries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .stack import DevStack, DevStackError

__all__ = ["DevStack", "DevStackError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import stack

        return getattr(stack, name)
    raise AttributeError(name)
