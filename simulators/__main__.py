"""``python -m simulators``: the simulator CLI."""

from simulators.cli import main

main()
