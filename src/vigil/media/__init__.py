"""Media: turn untrusted bytes into pixels safely (see :mod:`vigil.media.decode`)."""

from vigil.media.decode import DecodedImage, Limits, decode_image, read_media
from vigil.media.sniff import IMAGE_KINDS, sniff

__all__ = ["IMAGE_KINDS", "DecodedImage", "Limits", "decode_image", "read_media", "sniff"]
