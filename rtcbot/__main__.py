"""``python -m rtcbot``: the ``rtcbot`` command."""

from .cli import main

main()
