"""``python -m bench``: the gateway benchmark."""

from .gateway import main

main()
