"""``python -m companion.agent``: the book's agent in a terminal (:mod:`companion.agent.cli`)."""

import sys

from companion.agent.cli import main

sys.exit(main())
