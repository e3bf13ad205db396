"""Chat models: the offline scripted demo model, and OpenAI-compatible endpoints."""

from engine.models.factory import DEMO_LABEL, describe_model, make_model

__all__ = ["DEMO_LABEL", "describe_model", "make_model"]
