"""``python -m companion.agent``: the book's agent in a terminal (:mod:`companion.agent.cli`)."""

from companion.agent.cli import main

main()
