"""Chat models: the offline scripted demo model, and OpenAI-compatible endpoints."""

from engine.models.factory import make_model, model_name, model_problem

__all__ = ["make_model", "model_name", "model_problem"]
