# pyright: standard
"""``python -m seer_devstack start|stop|status|reset``."""

import sys

from .cli import main

sys.exit(main())
