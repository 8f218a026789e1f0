"""NEGATIVE type-check fixture: this file must FAIL mypy and pyright (tests/test_typing.py).

A typo in a method name on the blocking client has to be reported, not silently ``Any``.
"""

from seer_client.sync import SeerClient

client = SeerClient("http://127.0.0.1:54321", "anon-key")
client.create_sesion("00000000-0000-4000-8000-00000000a001")
