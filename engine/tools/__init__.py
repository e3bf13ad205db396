"""The demo tool catalogue: real effects, kept inside the home directory."""

from engine.tools.catalogue import CATALOGUE, ToolContext, ToolRefused, ToolSpec, validate_args
from engine.tools.ledger import Ledger

__all__ = ["CATALOGUE", "Ledger", "ToolContext", "ToolRefused", "ToolSpec", "validate_args"]
