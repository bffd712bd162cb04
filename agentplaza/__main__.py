"""python -m agentplaza → the CLI."""

from agentplaza.cli import main

main()
