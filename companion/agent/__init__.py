"""The single agent: tools, retrieval, tasks and the loop (chapter 7)."""
