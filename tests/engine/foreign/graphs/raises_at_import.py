"""A module that refuses to import without its settings, in two lines."""

import os

if "HITL_TESTS_NEVER_SET" not in os.environ:
    raise RuntimeError("HITL_TESTS_NEVER_SET is not set.\nSet it to your API key.")
