"""``python -m seer_client ...`` is the ``seer-client`` command (see :mod:`seer_client.cli`)."""

import sys

from .cli import main

sys.exit(main())
