"""Part-of-speech tagging (many-to-many): ``python -m applications.pos_tagger --help``."""
