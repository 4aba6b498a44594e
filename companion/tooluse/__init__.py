"""The tool-use data set that teaches SmolLM2-135M-Instruct to call tools (chapters 5 and 7).

- :mod:`~companion.tooluse.grammar`: templates with alternatives, optional words and slots;
- :mod:`~companion.tooluse.spoken`: numbers as people write them (digits, separators, words);
- :mod:`~companion.tooluse.frames`: a meaning (variables, one calculator expression, templates),
  read from ``data/sets/tooluse/grammar/*.yaml`` and checked against its schema;
- :mod:`~companion.tooluse.generate`: the makers and one split (``train``, ``validation``,
  ``test`` in-distribution; ``heldout``: frames and templates never trained on);
- :mod:`~companion.tooluse.splits`: all the files made together (the four splits and the
  ``focus`` file of the agent's last training stage), memory-shaped openings, reading and writing.

It imports the agent's tools (to compute every observation) and nothing of the agent's loop's
callers; fine-tuning reads its files and never imports the agent.
"""

from companion.tooluse.generate import DATA_DIR, SPLITS, generate_split, load_grammar
from companion.tooluse.splits import (
    FILES,
    FOCUS,
    generate_focus,
    generate_splits,
    load_split,
    summarize,
    with_memory,
    write_splits,
)

__all__ = ["DATA_DIR", "FILES", "FOCUS", "SPLITS", "generate_focus", "generate_split",
           "generate_splits", "load_grammar", "load_split", "summarize", "with_memory",
           "write_splits"]
