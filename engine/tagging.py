"""Tags on any resource: TagResource, UntagResource, ListTagsForResource.

Tags live in the store's `tags` table; the create operations attach theirs through the same
`Catalog.add_tags`, so Personalize's rules (at most 50 tags per resource, no `aws:` keys or
values) hold however a tag arrives. Deleting a resource deletes its tags.
"""

from __future__ import annotations

from typing import Any

from engine.base import EngineBase
from engine.errors import (
    InvalidInputException,
    ResourceNotFoundException,
    TooManyTagKeysException,
)
from engine.operations import operation
from engine.store.catalog import MAX_TAGS_PER_RESOURCE, RESERVED_TAG_PREFIX


class TagOps(EngineBase):
    """The tagging operations of the Engine."""

    def _require_any(self, resource_arn: str) -> None:
        """ResourceNotFoundException unless some resource has this ARN."""
        if self.catalog.get(resource_arn) is None:
            raise ResourceNotFoundException(
                f"resourceArn {resource_arn!r}: no resource has this ARN"
            )

    @operation("TagResource")
    def tag_resource(self, *, resourceArn: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        """Add tags to a resource; a key it already carries gets the new value.

        All or nothing: a reserved `aws:` key or value (InvalidInputException) or more than 50
        tags on the resource afterwards (TooManyTagsException) changes nothing.
        """
        self._require_any(resourceArn)
        with self.store.transaction() as cur:
            self.catalog.add_tags(resourceArn, tags, cur)
        return {}

    @operation("UntagResource")
    def untag_resource(self, *, resourceArn: str, tagKeys: list[str]) -> dict[str, Any]:
        """Remove the tags with these keys from a resource (keys it does not carry are ignored).

        More than 50 keys is TooManyTagKeysException; an `aws:` key is InvalidInputException
        (AWS's own tags cannot be removed).
        """
        self._require_any(resourceArn)
        if len(tagKeys) > MAX_TAGS_PER_RESOURCE:
            raise TooManyTagKeysException(
                f"tagKeys: {len(tagKeys)} keys given; a resource carries at most "
                f"{MAX_TAGS_PER_RESOURCE} tags, so at most {MAX_TAGS_PER_RESOURCE} keys may be "
                "removed at once"
            )
        for i, key in enumerate(tagKeys):
            if key.lower().startswith(RESERVED_TAG_PREFIX):
                raise InvalidInputException(
                    f"tagKeys[{i}] {key!r}: tag keys starting with {RESERVED_TAG_PREFIX!r} are "
                    "reserved for AWS and cannot be removed"
                )
        self.catalog.remove_tags(resourceArn, tagKeys)
        return {}

    @operation("ListTagsForResource")
    def list_tags_for_resource(self, *, resourceArn: str) -> dict[str, Any]:
        """The tags of a resource, ordered by key."""
        self._require_any(resourceArn)
        return {"tags": self.catalog.tags_of(resourceArn)}
