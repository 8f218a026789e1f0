"""Deprecated: ``python -m seer_client.devstack`` is ``python -m seer_devstack``."""

import sys
import warnings

warnings.warn(
    "python -m seer_client.devstack moved to python -m seer_devstack (or seer-devstack)",
    DeprecationWarning,
    stacklevel=1,
)

from seer_devstack.cli import main  # noqa: E402

sys.exit(main())
