"""Index: exact maps live in the store's SQL indexes; Hamming-radius search lives here."""

from vigil.index.hamming import HammingIndex
from vigil.index.local import LocalIndex

__all__ = ["HammingIndex", "LocalIndex"]
