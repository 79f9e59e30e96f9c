"""Survivors' submissions through a real `vigil serve` (issue 21): hashes only (a file, or any
body that is not JSON, is refused), a receipt that checks and withdraws, a withdrawal that
stops matching when it returns, the list exported in StopNCII's form, degenerate and unknown
hashes refused by name, and a rate limit per address. Hashes come from the committed benign
photos."""

from __future__ import annotations

import json
from pathlib import Path

from tests.service_kit import PHOTOS, Server
from vigil.matching.hashing import hash_file

KNOWN = sorted((PHOTOS / "known").glob("*.jpg"))


def _item(path: Path) -> dict[str, str]:
    got = hash_file(path, ["md5", "pdq"])
    return {t: s.value for t, s in got.signals.items()}


def test_hashes_in_a_receipt_back_and_a_withdrawal_that_stops_matching(server: Server) -> None:
    photo = KNOWN[1]
    with server.client(None) as anyone, server.client("match") as platform:
        refused = anyone.post("/v1/submissions", content=photo.read_bytes(),
                              headers={"Content-Type": "image/jpeg"})  # fmt: skip
        assert refused.status_code == 415
        bad = anyone.post("/v1/submissions", json={"items": [{"pdq": "00" * 32}]})
        assert bad.status_code == 422
        assert "items[0].pdq" in bad.json()["error"]["message"]
        other = anyone.post("/v1/submissions", json={"items": [{"sha1": "ab" * 20}]})
        assert "one of md5, pdq, video_md5" in other.json()["error"]["message"]
        made = anyone.post("/v1/submissions", json={"items": [_item(photo)], "label": "case 7"})
        assert made.status_code == 201, made.text
        receipt = made.json()["receipt"]
        assert made.headers.get("set-cookie") is None
        ask = {"signals": [{"type": "pdq", "value": _item(photo)["pdq"]}]}
        [match] = platform.post("/v1/match/signals", json=ask).json()["matches"]
        assert match["list"] == "submissions"  # matchable as soon as the answer came
        status = anyone.get(f"/v1/submissions/{receipt.lower().replace('-', '')}").json()
        assert (status["state"], status["files"], status["label"]) == ("active", 1, "case 7")
        gone = anyone.delete(f"/v1/submissions/{receipt}").json()
        assert gone["state"] == "withdrawn"
        assert platform.post("/v1/match/signals", json=ask).json()["matches"] == []
        assert anyone.get("/v1/submissions/AAAA-BBBB").status_code == 404
    with server.client("curator") as curator:
        exported = curator.get("/v1/lists/submissions/export", params={"format": "stopncii"})
        assert exported.status_code == 200
        assert json.loads(exported.text)["hashRecords"] == []  # withdrawn: nothing to share


def test_the_list_goes_out_in_stopncii_form_and_floods_are_slowed(server: Server) -> None:
    with server.client(None) as anyone:
        items = [_item(p) for p in KNOWN[:3]]
        made = anyone.post("/v1/submissions", json={"items": items, "label": "helpline-7731"})
        assert made.json()["hashes"] == 6
        answers = [anyone.get("/v1/submissions/NOPE").status_code for _ in range(12)]
        assert 429 in answers  # twelve a minute, in bursts of ten
    with server.client("curator") as curator:
        records = json.loads(
            curator.get("/v1/lists/submissions/export", params={"format": "stopncii"}).text
        )["hashRecords"]
    assert sorted(r["signalType"] for r in records) == ["ImagePDQ"] * 3
    assert "helpline-7731" not in json.dumps(records)  # the person's label never leaves
