"""The demo tool catalogue: real effects, kept inside the home directory."""

from engine.tools.catalogue import CATALOGUE, ToolContext, ToolRefused, ToolSpec, validate_args

__all__ = ["CATALOGUE", "ToolContext", "ToolRefused", "ToolSpec", "validate_args"]
