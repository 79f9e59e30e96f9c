"""Index: exact maps live in the store's SQL indexes; Hamming-radius search lives here."""

from vigil.index.hamming import HammingIndex

__all__ = ["HammingIndex"]
