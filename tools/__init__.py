"""Maintainers' tools that are not part of the product: run from a checkout as ``python -m tools.NAME``."""
