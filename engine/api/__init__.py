"""The HTTP adapter: a FastAPI app mounted at /api, speaking Personalize's wire protocols."""

from engine.api.app import create_api

__all__ = ["create_api"]
