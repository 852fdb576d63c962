"""``python -m twin.cli``: the same as the ``twin`` console script."""

from twin.cli import main

main()
