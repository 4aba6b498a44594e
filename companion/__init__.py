"""The companion package of *From Attention to Agents*.

Every chapter's notebook imports its logic from here, so that the tests in ``tests/`` can reach it:

- ``companion.config``: the one hardware switch (profile ``cpu`` or ``gpu``).
- ``companion.notebook``: the ``%%gpu`` / ``%%online`` cell magics and notebook set-up.
- ``companion.models``: SmolLM2-135M-Instruct and all-MiniLM-L6-v2, loaded offline from wheels.
"""

__version__ = "0.1.0"
