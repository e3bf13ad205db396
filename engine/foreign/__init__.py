"""Other people's agents: their graphs, the interrupts they raise, their checkpoint
databases, and at-most-once for their tools."""
