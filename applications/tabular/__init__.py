"""Tabular data (CSV/TSV columns -> one or more targets): ``python -m applications.tabular``."""
