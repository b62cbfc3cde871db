"""Schemas: CreateSchema, DescribeSchema, ListSchemas, DeleteSchema."""

from __future__ import annotations

from typing import Any

from engine.base import EngineBase, summary
from engine.datasets.avro import parse_schema
from engine.errors import ResourceInUseException
from engine.operations import operation, paginate
from engine.store import Resource

SCHEMA = "schema"


def _describe(schema: Resource, with_body: bool = True) -> dict[str, Any]:
    out = summary(schema, "schemaArn", domain=schema.spec.get("domain"))
    if with_body:
        out["schema"] = schema.spec["schema"]
    return out


class SchemaOps(EngineBase):
    """The schema operations of the Engine."""

    @operation("CreateSchema")
    def create_schema(self, *, name: str, schema: str, domain: str | None = None) -> dict[str, Any]:
        """Create a schema from Avro JSON text; InvalidInputException names a bad field."""
        parse_schema(schema)
        arn = self.arns.schema(name)
        self.catalog.insert(SCHEMA, arn, name, spec={"schema": schema, "domain": domain})
        return {"schemaArn": arn}

    @operation("DescribeSchema")
    def describe_schema(self, *, schemaArn: str) -> dict[str, Any]:
        """Describe a schema, with its Avro JSON text."""
        return {"schema": _describe(self.catalog.require(schemaArn, SCHEMA))}

    @operation("ListSchemas")
    def list_schemas(
        self, *, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        """List schemas, newest first."""
        rows = [_describe(s, with_body=False) for s in self.catalog.list(SCHEMA)]
        return paginate("ListSchemas", rows, "schemas", nextToken, maxResults)

    @operation("DeleteSchema")
    def delete_schema(self, *, schemaArn: str) -> dict[str, Any]:
        """Delete a schema no dataset uses."""
        self.catalog.require(schemaArn, SCHEMA)
        users = [
            d.arn for d in self.catalog.list("dataset") if d.spec.get("schemaArn") == schemaArn
        ]
        if users:
            raise ResourceInUseException(
                f"Schema {schemaArn} is used by dataset(s) {', '.join(users)}: delete them first"
            )
        self.catalog.delete(schemaArn)
        return {}
