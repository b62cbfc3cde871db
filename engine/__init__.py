"""Tailor's engine: Amazon Personalize's operations on DuckDB (`from engine import Engine`)."""

from engine.config import Settings
from engine.engine import Engine
from engine.errors import (
    DataDirectoryLocked,
    InvalidInputException,
    InvalidNextTokenException,
    LimitExceededException,
    PersonalizeError,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    ResourceNotFoundException,
)

__all__ = [
    "DataDirectoryLocked",
    "Engine",
    "InvalidInputException",
    "InvalidNextTokenException",
    "LimitExceededException",
    "PersonalizeError",
    "ResourceAlreadyExistsException",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "Settings",
]
