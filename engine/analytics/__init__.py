"""Tailor's own analytics for the dashboard: query modules over the store (DuckDB SQL with
bound parameters, results as Polars frames) and the statistics on top. One module per topic;
functions take the Engine and return data, never figures."""
