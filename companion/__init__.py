"""The companion package of *From Attention to Agents*.

Every chapter's notebook imports its logic from here, so that the tests in ``tests/`` can reach it:

- ``companion.config``: the one hardware switch (profile ``cpu`` or ``gpu``).
- ``companion.notebook``: the ``%%gpu`` / ``%%online`` cell magics and notebook set-up.
- ``companion.models``: SmolLM2-135M-Instruct and all-MiniLM-L6-v2, loaded offline from wheels.
- ``companion.paths``: where the repository, its data and the tool-use data set live.

Each chapter's code, one hop away (imports point one way: see AUTHORING.md):

====================  ===================================================================
chapter               modules
====================  ===================================================================
1 history             ``history``, ``models``
2 Hugging Face        ``tokenization``, ``corpus``, ``anatomy``, ``models``
3 attention           ``attention``
4 the decoder         ``decoder``, ``fastdecode``, ``seq2seq``, ``corpus``
5 fine-tuning         ``finetune`` (``labels``, ``data``, ``train``, ``evaluate``),
                      ``tooluse`` (the data set it trains on), ``toolcall``
6 evaluation          ``metrics`` (``overlap``, ``agreement``, ``perplexity``, ``stats``),
                      ``heldout``
7 the single agent    ``agent`` (``tools``, ``loop``, ``llm``, ``grammar``, ``constrained``,
                      ``retrieval``, ``spelling``, ``memory``, ``build``, ``cli``, ...)
assignments           ``teaching`` (the grader, apart from the book's teaching code)
====================  ===================================================================
"""

__version__ = "0.1.0"
