"""Sequence-to-sequence translation with attention: ``python -m applications.translator --help``."""
