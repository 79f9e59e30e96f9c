"""Each kind of signal is matched its own way: the Matcher never switches on kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.errors import UsageError
from vigil.matching import match, ways
from vigil.matching.hashing import hash_bytes
from vigil.signals import registry
from vigil.store import Store


def test_every_signal_type_has_a_way_and_robust_ones_come_last() -> None:
    for name in registry.names():
        way = ways.way_of(name)
        assert way.name == registry.get(name).kind
        assert way.last == (way.name in ("local", "local_frames")), name


def test_robust_signals_match_media_not_values(tmp_path: Path, known_photos: list[Path]) -> None:
    store = Store.open(tmp_path)
    store.create_list("known")
    value = hash_bytes(known_photos[0].read_bytes(), "photo").signals["vlocal"].value
    with pytest.raises(UsageError, match="matches media"):
        match.Matcher(store).match_value("vlocal", value)
