"""hitl-console's Textual console; talks to the engine only through its public API."""
