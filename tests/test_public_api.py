"""The public surface is what we say it is."""

from __future__ import annotations

import vigil


def test_all_names_exist_and_nothing_else_is_exported() -> None:
    for name in vigil.__all__:
        assert hasattr(vigil, name), name
    public = {n for n in vars(vigil) if not n.startswith("_")}
    submodules = {
        "audit",
        "cli",
        "errors",
        "evidence",
        "exchanges",
        "index",
        "lists",
        "matching",
        "media",
        "registry",
        "review",
        "sandbox",
        "service",
        "signals",
        "store",
        "triage",
        "web",
    }
    assert public - set(vigil.__all__) <= submodules


def test_readme_example_runs(tmp_path: object, known_photos: list[object]) -> None:
    store = vigil.Store.open(str(tmp_path))
    store.create_list("known")
    result = vigil.hash_file(str(known_photos[0]), variants=True)
    store.apply("known", [vigil.Entry("a", [(s.type, s.value) for s in result.signals.values()])])
    (match,) = vigil.Matcher(store).match_result(result)
    assert (match.list, match.entry.key, match.signal_type) == ("known", "a", "md5")
    store.close()
