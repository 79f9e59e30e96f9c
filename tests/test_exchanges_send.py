"""ThreatExchange and another Vigil as exchanges, and what Vigil sends back (issue 18): feedback
to NCMEC, StopNCII and ThreatExchange, and local lists shared out. Each fake is checked by
pytx's own client, and what Vigil sends is checked against what pytx sends for the same thing."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import fake_ncmec, fake_stopncii
from tests.fake_threatexchange import GROUP, TOKEN, FakeThreatExchange, serving, update
from vigil.errors import NotFound, UsageError
from vigil.exchanges import ExchangeConfig, ExchangeStore, Feedback, feedback, share, sync
from vigil.lists import Entry
from vigil.matching.match import Matcher
from vigil.store import Store

VIGIL = str(Path(sys.executable).with_name("vigil"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "home")
    s.create_list("te")
    yield s
    s.close()


def _add_te(store: Store, url: str, tmp_path: Path) -> None:
    token = tmp_path / "te-token"
    token.write_text(TOKEN + "\n")
    settings = {"base_url": url, "credentials_file": str(token), "privacy_group": GROUP,
                "page_size": 4, "retry_backoff": 0}  # fmt: skip
    ExchangeStore(store).add(ExchangeConfig("te", "threatexchange", "te", settings))


def test_pytx_reads_the_fake_threatexchange_as_it_reads_threatexchange() -> None:
    from threatexchange.exchanges.clients.fb_threatexchange.api import ThreatExchangeAPI
    from threatexchange.exchanges.clients.fb_threatexchange.threat_updates import (
        ThreatUpdateJSON,
    )
    from threatexchange.exchanges.impl.fb_threatexchange_api import (
        FBThreatExchangeIndicatorRecord,
    )

    fake = FakeThreatExchange(
        [update(n, 100 + n) for n in range(9)] + [update(3, 200, deleted=True)]
    )
    with serving(fake) as url:
        api = ThreatExchangeAPI(TOKEN, endpoint_override=url)
        cursor = api.get_threat_updates(GROUP, start_time=0, page_size=4,
                                        fields=ThreatUpdateJSON.te_threat_updates_fields(),
                                        decode_fn=ThreatUpdateJSON)  # fmt: skip
        got = [u for batch in cursor for u in batch]
    assert [u.time for u in got] == sorted(u.time for u in got)  # in time order
    assert len(got) == 10
    assert got[-1].should_delete
    record = FBThreatExchangeIndicatorRecord.from_threatexchange_json(api.app_id, got[0])
    assert record is not None
    assert record.opinions[0].tags == {"csam"}


def test_threatexchange_sync_maps_types_deletes_and_rides_out_faults(
    store: Store, tmp_path: Path
) -> None:
    upstream = [update(n, 100 + n) for n in range(6)]
    upstream += [update(6, 106, "HASH_MD5", tags=("media_type_video",)), update(7, 107, "HASH_MD5"),
                 update(8, 108, "HASH_SHA1"), update(9, 109, "URI")]  # fmt: skip
    upstream.append(update(2, 150, deleted=True))
    malformed = update(10, 151)
    malformed["indicator"] = "not-a-pdq"
    upstream.append(malformed)
    fake = FakeThreatExchange(upstream, faults=deque(["429", "500", "garble"]))
    with serving(fake) as url:
        _add_te(store, url, tmp_path)
        done = sync(store, "te")
    assert (done["state"], done["added"], done["removed"]) == ("ok", 9, 1)  # 9002 came, went
    assert done["problems"] == 1  # the malformed record is reported; the sync goes on
    # the URI update asks for a type Vigil lacks: the fake filters it, as types= asks
    got = {e.key: e for e in store.iter_entries("te")}
    assert "te:9002" not in got
    assert len(got) == 8
    assert got["te:9006"].signals == [("video_md5", upstream[6]["indicator"])]
    assert got["te:9007"].signals == [("md5", upstream[7]["indicator"])]  # pytx drops this one
    assert got["te:9000"].extra["descriptors"][0]["id"] == "7000"
    assert ExchangeStore(store).get("te").checkpoint["update_time"] == 151
    (m,) = Matcher(store).match_value("pdq", upstream[0]["indicator"])
    assert (m.entry.key, m.entry.source) == ("te:9000", "exchange:te")


def test_a_stale_threatexchange_checkpoint_fetches_everything_again(
    store: Store, tmp_path: Path
) -> None:
    fake = FakeThreatExchange([update(n, 100 + n) for n in range(5)])
    with serving(fake) as url:
        _add_te(store, url, tmp_path)
        sync(store, "te")
        store.remove_entries("te", ["te:9000"])  # lost locally, at time 100
        ExchangeStore(store).save("te", {"update_time": 104, "fetched_at": 0}, {})
        assert sync(store, "te")["added"] == 1  # past 85 days: all fetched again
        assert ExchangeStore(store).get("te").checkpoint["refetched_stale"] is True


def test_feedback_and_sharing_go_to_threatexchange_as_pytx_would_send_them(
    store: Store, tmp_path: Path
) -> None:
    from threatexchange.exchanges.clients.fb_threatexchange.api import ThreatExchangeAPI

    fake = FakeThreatExchange([update(n, 100 + n) for n in range(3)])
    with serving(fake) as url:
        _add_te(store, url, tmp_path)
        sync(store, "te")
        pdq = fake.updates[1]["indicator"]
        assert feedback(store, "te", [Feedback("pdq", pdq, positive=False)]) == 1
        with pytest.raises(NotFound):  # feedback is for hashes the exchange sent
            feedback(store, "te", [Feedback("pdq", "ab" * 32, positive=False)])
        store.create_list("confirmed")
        store.apply("confirmed", [Entry("c1", [("pdq", "cd" * 32), ("md5", "ef" * 16)],
                                        tags=["csam"])])  # fmt: skip
        assert share(store, "te", "confirmed") == 2
        assert share(store, "te", "te") == 0  # what it sent is not sent back
    (react, react_form), *shared = fake.posted
    assert (react, react_form) == ("/v21.0/7001/", {"reactions": "DISAGREE_WITH_TAGS"})
    for path, form in shared:  # pytx's own check of a descriptor to submit
        assert path == "/v21.0/threat_descriptors/"
        assert ThreatExchangeAPI(TOKEN)._validate_post_params_for_submit(form) is None
    assert {f["type"] for _, f in shared} == {"HASH_PDQ", "HASH_MD5"}
    assert {f["privacy_members"] for _, f in shared} == {str(GROUP)}


# -- NCMEC ------------------------------------------------------------------------------------
def _add_ncmec(store: Store, url: str, tmp_path: Path) -> None:
    creds = tmp_path / "ncmec-credentials"
    creds.write_text("esp-user:esp-pass\n")
    store.create_list("ncmec")
    settings = {"base_url": url, "credentials_file": str(creds),
                "start": fake_ncmec.EPOCH - 10, "retry_backoff": 0}  # fmt: skip
    ExchangeStore(store).add(ExchangeConfig("ncmec", "ncmec", "ncmec", settings))


def test_ncmec_feedback_is_the_vote_pytx_sends(store: Store, tmp_path: Path) -> None:
    from threatexchange.exchanges.clients.ncmec.hash_api import (
        FeedbackType,
        FingerprintType,
        NCMECEnvironment,
        NCMECHashAPI,
    )

    fake = fake_ncmec.FakeNcmec(fake_ncmec.entries(5))
    with fake_ncmec.serving(fake) as url:
        _add_ncmec(store, url, tmp_path)
        sync(store, "ncmec")
        one = fake.entries[1]
        md5 = one.fingerprints()["md5"]
        assert feedback(store, "ncmec", [Feedback("md5", md5, True)]) == 1
        sent = feedback(store, "ncmec", [Feedback("md5", md5, False, reason="not csam")])
        assert sent == 1
        with pytest.raises(UsageError, match="Poor quality hash"):  # two reasons: name one
            feedback(store, "ncmec", [Feedback("md5", md5, False)])
        api = NCMECHashAPI("esp-user", "esp-pass", NCMECEnvironment.Industry)
        api._base_url = url
        guid = next(
            g for g, n in api.feedback_reasons(FingerprintType.md5).items() if n == "Not CSAM"
        )
        api.submit_feedback(one.member, str(one.id), FingerprintType.md5, FeedbackType.upvote)
        api.submit_feedback(one.member, str(one.id), FingerprintType.md5, FeedbackType.downvote,
                            guid)  # fmt: skip
    ours, theirs = fake.votes[:2], fake.votes[2:]
    assert [p for p, _ in ours] == [p for p, _ in theirs] == [
        f"/v2/entries/{one.member}/{one.id}/MD5/feedback"] * 2  # fmt: skip
    for (_, a), (_, b) in zip(ours, theirs, strict=True):
        assert _shape(a) == _shape(b)


def _shape(body: bytes) -> list[tuple[str, str]]:
    return [(e.tag, (e.text or "").strip()) for e in ET.fromstring(body).iter()]


# -- StopNCII ---------------------------------------------------------------------------------
def test_sharing_to_stopncii_submits_what_pytx_submits(store: Store, tmp_path: Path) -> None:
    from threatexchange.exchanges.clients.stopncii.api import (
        StopNCIIAPI,
        StopNCIICSPFeedback,
        StopNCIICSPFeedbackValue,
        StopNCIIEndpoint,
        StopNCIISignalType,
    )

    keys = {"subscription_key": fake_stopncii.SUBSCRIPTION, "fetch_function_key":
            fake_stopncii.FETCH_KEY, "submit_function_key": fake_stopncii.FEEDBACK_KEY}  # fmt: skip
    creds = tmp_path / "stopncii.json"
    creds.write_text(json.dumps(keys))
    store.create_list("stopncii")
    store.create_list("confirmed")
    store.apply("confirmed", [Entry("c1", [("pdq", "cd" * 32)]),
                              Entry("c2", [("md5", "ef" * 16)])])  # fmt: skip
    fake = fake_stopncii.FakeStopNcii([])
    with fake_stopncii.serving(fake) as url:
        settings = {"base_url": url, "credentials_file": str(creds), "retry_backoff": 0}
        ExchangeStore(store).add(ExchangeConfig("stopncii", "stopncii", "stopncii", settings))
        run = [VIGIL, "--home", str(store.home), "exchange", "share", "stopncii"]
        done = subprocess.run([*run, "--list", "confirmed"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "sent 1 hashes" in done.stdout  # a photo's MD5 is not StopNCII's VideoMD5
        api = StopNCIIAPI(keys["subscription_key"], keys["fetch_function_key"],
                          {StopNCIIEndpoint.SubmitHashes: keys["submit_function_key"]},
                          base_url_override=url)  # fmt: skip
        blocked = StopNCIICSPFeedback(StopNCIICSPFeedbackValue.Blocked)
        api.submit_hashes({(StopNCIISignalType.ImagePDQ, "cd" * 32): blocked})
    (ours_path, ours), (theirs_path, theirs) = fake.posted
    assert ours_path == theirs_path == "/v1/SubmitHashes"
    for body in (ours, theirs):
        for rec in body["hashRecords"]:
            rec.pop("lastModtimestamp")
    # pytx sends str() of its enum ("StopNCIISignalType.ImagePDQ"); the API takes the bare
    # value (FORMATS.md section 3), which Vigil sends: in all else the bodies are the same
    (theirs_record,) = theirs["hashRecords"]
    assert theirs_record["signalType"] == "StopNCIISignalType.ImagePDQ"
    theirs_record["signalType"] = "ImagePDQ"
    assert ours == theirs


# -- another Vigil ------------------------------------------------------------------------------
def test_a_peer_vigils_list_arrives_whole_and_follows_its_changes(
    store: Store, tmp_path: Path
) -> None:
    from tests.service_kit import serving as serving_vigil
    from vigil.lists import Removal
    from vigil.service import KeyStore

    peer = Store.open(tmp_path / "peer")
    peer.create_list("shared", category_labels={"1": "A1"})
    sent = [Entry(f"p{n}", [("pdq", f"{n:02x}" * 32), ("md5", f"{n:032x}")], category=1,
                  tags=["shared"], comments=f"note {n}") for n in range(1, 6)]  # fmt: skip
    peer.apply("shared", sent)
    key = tmp_path / "peer-key"
    key.write_text(KeyStore(peer).create("partner", "curator"))
    try:
        with serving_vigil(peer) as url:
            settings = {"url": url, "list": "shared", "credentials_file": str(key),
                        "retry_backoff": 0}  # fmt: skip
            ExchangeStore(store).add(ExchangeConfig("partner", "vigil", "te", settings))
            assert sync(store, "partner")["added"] == 5
            got = {e.key: e for e in store.iter_entries("te")}
            for e in sent:
                mine = got[e.key]
                assert (sorted(mine.signals), mine.category, mine.tags, mine.comments) == (
                    sorted(e.signals), 1, ["shared"], e.comments)  # fmt: skip
                assert mine.source == "exchange:partner"
            assert ExchangeStore(store).get("partner").checkpoint["etag"]  # asked with it next
            assert sync(store, "partner")["fetched"] == 0  # 304: the list did not change
            peer.apply("shared", [Removal("p2", "withdrawn by the partner")])
            again = sync(store, "partner")
    finally:
        peer.close()
    assert (again["removed"], "p2" in {e.key for e in store.iter_entries("te")}) == (1, False)
