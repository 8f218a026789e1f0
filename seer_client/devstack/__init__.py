"""Deprecated alias of :mod:`seer_devstack` (the local stack moved to its own package).

``from seer_client.devstack import DevStack`` and ``python -m seer_client.devstack`` keep working
for one release and warn; use ``from seer_devstack import DevStack`` and ``seer-devstack`` (or
``python -m seer_devstack``).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seer_devstack import DevStack, DevStackError

__all__ = ["DevStack", "DevStackError"]

_MOVED = "seer_client.devstack moved to seer_devstack; this alias goes away in the next release"


def __getattr__(name: str) -> Any:
    if name in __all__:
        warnings.warn(_MOVED, DeprecationWarning, stacklevel=2)
        import seer_devstack

        value = getattr(seer_devstack, name)
        globals()[name] = value  # warn once per process
        return value
    raise AttributeError(name)
