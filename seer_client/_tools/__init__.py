"""Tooling behind the ``seer-client`` command: the schema export/apply, the demo and ``watch``.

Private: not part of the SDK's API (``seer_client.__all__``). The local stack is its own package,
:mod:`seer_devstack`, which imports only :mod:`seer_client._tools.schema` from here.
"""
