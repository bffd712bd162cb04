"""Dialects: thin adapters that speak other platforms' APIs over the same services."""
