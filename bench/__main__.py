"""``python -m bench`` (``make bench``): every benchmark, one table.

First the suite (bench/suite.py: SQL path, gateway path, realtime fan-out, scale, memory;
sizes from BENCH_* env vars), then the devstack's own gateway benchmark (bench/gateway.py).
``python -m bench sql gateway`` runs only the named suite sections (and skips bench/gateway.py);
SEER_BENCH_SKIP_GATEWAY_PY=1 skips bench/gateway.py in a full run.
"""

import os
import sys

from .suite import main as suite_main

sections = sys.argv[1:]
code = suite_main(sections)
if not sections and os.environ.get("SEER_BENCH_SKIP_GATEWAY_PY") != "1":
    from .gateway import main

    print("\n--- bench/gateway.py (devstack gateway vs asyncpg, broadcast latency) ---")
    main([])
sys.exit(code)
