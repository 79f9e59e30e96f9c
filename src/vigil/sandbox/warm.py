"""Imported by the sandbox's forkserver (and only there): hashes and inspects one small
synthetic image, so that the compiled kernels (numba's, loaded from its cache on first use) are
in the forkserver before it forks a worker. A worker that replaces one stopped by a hostile
file then hashes its first upload without paying that loading against the upload's CPU
budget."""

from __future__ import annotations

import contextlib

__all__: list[str] = []


def _warm() -> None:
    from vigil.evidence import inspect_bytes
    from vigil.matching.hashing import hash_bytes
    from vigil.signals.pdq import example_image

    data = example_image(3, (200, 160))
    hash_bytes(data, "warm-up", None, variants=True)
    inspect_bytes(data, "warm-up")


with contextlib.suppress(Exception):  # a warm-up that fails costs speed, never correctness
    _warm()
