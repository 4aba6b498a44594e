"""The tool-use data set that teaches SmolLM2-135M-Instruct to call tools (chapters 5 and 7).

- :mod:`~companion.tooluse.grammar`: templates with alternatives, optional words and slots;
- :mod:`~companion.tooluse.spoken`: numbers as people write them (digits, separators, words);
- :mod:`~companion.tooluse.frames`: a meaning (variables, one calculator expression, templates),
  read from ``data/tooluse/grammar/*.yaml`` and checked against its schema;
- :mod:`~companion.tooluse.generate`: the makers, the splits (``train``, ``validation``, ``test``
  in-distribution; ``heldout``: frames and templates never trained on) and the files.

It imports the agent's tools (to compute every observation) and nothing of the agent's loop's
callers; fine-tuning reads its files and never imports the agent.
"""

from companion.tooluse.generate import (
    DATA_DIR,
    SPLITS,
    generate_split,
    generate_splits,
    load_grammar,
    load_split,
    summarize,
    write_splits,
)

__all__ = ["DATA_DIR", "SPLITS", "generate_split", "generate_splits", "load_grammar",
           "load_split", "summarize", "write_splits"]
