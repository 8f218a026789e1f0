"""``python -m seer_client ...`` is the ``seer-client`` command (see :mod:`seer_client._tools.cli`)."""

import sys

from ._tools.cli import main

sys.exit(main())
