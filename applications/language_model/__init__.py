"""Character- and word-level language models: next-token prediction and sampling."""
