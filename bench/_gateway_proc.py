"""Child process for the benchmarks: the devstack gateway on a given database and port.

Prints one JSON line (url, keys) when it is serving; stops when its stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys

from seer_devstack.stack import DevStack


async def main(db_url: str, port: int) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(65536, hard), hard))
    # The benchmarks drive 6,000 sockets and hundreds of events per second: far above the local
    # CLI's tenant limits (100 messages/s, 100 joins/s), which the devstack enforces as Realtime
    # does. Raised here on purpose (a Team/Enterprise-sized tenant), so the figures measure the
    # stack, not the throttle; the recovery bench reports the presence rate against 1,000/s.
    async with DevStack(
        database_url=db_url,
        port=port,
        idle_timeout=600.0,
        realtime_max_events_per_second=10_000_000,
        realtime_max_presence_events_per_second=10_000_000,
        realtime_max_joins_per_second=10_000_000,
    ) as stack:
        info = {"url": stack.url, "anon_key": stack.anon_key, "jwt_secret": stack.jwt_secret}
        print(json.dumps(info), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # returns at EOF: the parent is done


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
