"""The errors a caller of the Engine can get: one class per Amazon Personalize error code.

The HTTP layer maps each class 1:1 to AWS's JSON error shape (`__type` = `code`, `message`)
and status, so boto3 raises its usual exception classes.
"""

from __future__ import annotations


class PersonalizeError(Exception):
    """Base class: an error with an AWS error code and an HTTP status."""

    code = "InternalFailure"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_aws(self) -> dict[str, str]:
        """AWS's JSON error body for this error."""
        return {"__type": self.code, "message": self.message}


class InvalidInputException(PersonalizeError):
    """A parameter's value breaks a rule; the message names the field, the value and the rule."""

    code = "InvalidInputException"
    status = 400


class ResourceNotFoundException(PersonalizeError):
    """No resource has the given ARN."""

    code = "ResourceNotFoundException"
    status = 404


class ResourceAlreadyExistsException(PersonalizeError):
    """A resource with that name (and so that ARN) exists already."""

    code = "ResourceAlreadyExistsException"
    status = 400


class ResourceInUseException(PersonalizeError):
    """The resource is used by another one, or is busy (e.g. an import is running)."""

    code = "ResourceInUseException"
    status = 400


class LimitExceededException(PersonalizeError):
    """A quota would be exceeded."""

    code = "LimitExceededException"
    status = 400


class InvalidNextTokenException(PersonalizeError):
    """A pagination token that this service did not issue (or issued for another listing)."""

    code = "InvalidNextTokenException"
    status = 400


class TooManyTagsException(PersonalizeError):
    """More tags than a resource may carry."""

    code = "TooManyTagsException"
    status = 400


class TooManyTagKeysException(PersonalizeError):
    """More tag keys in one UntagResource request than a resource may carry."""

    code = "TooManyTagKeysException"
    status = 400


class DataDirectoryLocked(RuntimeError):
    """Another process holds the data directory: use that process's API instead."""
