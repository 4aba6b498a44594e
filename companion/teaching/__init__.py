"""Teaching with the book: classroom assignments, a student release, a sandboxed grader and a
gradebook (book/teaching.md). Teacher's tooling, apart from the code the chapters teach.

Modules, one idea each, and their commands (``python -m companion.teaching.<module>``):

- ``source``: the assignment source format (``assignments/chNN_topic.py``).
- ``notebooks``: student and solution notebooks, the ``%%check`` magic (``notebooks student``).
- ``release``: the student bundle, without solutions or hidden checks (``release --out handout``).
- ``check``: a student's public score on their own machine (``check ch03_attention.ipynb``).
- ``sandbox``: where a submission runs (process group, resource limits, namespaces).
- ``harness``: the process that runs a submission one step at a time.
- ``grade``: grading a class (``grade ch03_attention submitted/ --out grades/``).
- ``gradebook``: score sheets, hand-graded written answers, the LMS CSV (``gradebook grades/``).
"""
