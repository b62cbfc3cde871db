"""The only code that talks to DuckDB: connection, migrations, catalog and dataset tables."""

from engine.store.catalog import Catalog, Resource
from engine.store.connection import Store

__all__ = ["Catalog", "Resource", "Store"]
