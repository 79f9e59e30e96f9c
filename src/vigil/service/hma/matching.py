"""HMA's matching and hashing routes (``/m``, ``/h``) and its health check (``/status``).

Lookups go through the same :class:`~vigil.matching.match.Matcher` as ``/v1``; a match is
answered as HMA answers it, ``{bank: [{"bank_content_id": id, "distance": "4"}]}``.
``/m/lookup`` takes a list part only as often as its ``enabled_ratio`` says (one coin flip per
request, seeded by ``?seed=`` when given, skipped with ``bypass_coinflip=true``), and leaves
out content whose ``disable_until_ts`` is in force; ``/m/raw_lookup`` does neither, as in HMA.
Both leave out content quarantined as a flood (:mod:`vigil.exchanges.flood`): HMA clients act
on what is answered.
"""

import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from vigil.errors import UsageError
from vigil.matching.hashing import HashResult
from vigil.matching.match import Match, Matcher
from vigil.service.hma.content import enabled
from vigil.service.hma.media import json_body, read_media
from vigil.service.hma.models import RawLookup, hma_errors
from vigil.service.keys import ApiKey
from vigil.signals import registry
from vigil.store.store import indexed_types

__all__ = ["matching_routes", "require_media"]

Role = Callable[[str], Callable[..., Awaitable[ApiKey]]]
ByBank = dict[str, list[dict[str, Any]]]


def _banks(banks: str | None) -> set[str] | None:
    return set(banks.split(",")) if banks else None


def _ratios(matcher: Matcher) -> dict[str, float]:
    """Each bank's ``enabled_ratio``, as the matcher read the lists."""
    return {name: info.enabled_ratio for name, info in matcher.lists.items()}


def _by_bank(found: Iterable[Match], ratios: dict[str, float], coinflip: float | None,
             banks: set[str] | None) -> ByBank:  # fmt: skip
    """HMA's answer: per bank, each matched content once (``coinflip``: None for a raw lookup,
    which neither samples banks nor leaves disabled content out)."""
    out: ByBank = {}
    seen: set[tuple[str, int]] = set()
    for m in found:
        cid = m.entry.row_id or 0
        if (banks is not None and m.list not in banks) or (m.list, cid) in seen:
            continue
        if coinflip is not None and (ratios.get(m.list, 1.0) < coinflip or not enabled(m.entry)):
            continue
        seen.add((m.list, cid))
        out.setdefault(m.list, []).append({"bank_content_id": cid, "distance": str(m.distance)})
    return out


def matching_routes(svc: Any, role: Role) -> APIRouter:
    router = APIRouter(tags=["HMA: matching"], responses=hma_errors())
    matcher_key = Annotated[ApiKey, Depends(role("match"))]

    def coinflip(request: Request, bypass: bool) -> float:
        return 0.0 if bypass else random.Random(request.query_params.get("seed")).random()

    def by_value(signal_type: str, signal: str) -> tuple[list[Match], dict[str, float]]:
        registry.get(signal_type)  # an unknown type is a 400, as in HMA
        with svc.lock:
            matcher = svc.matcher(None)
            found = matcher.match_value(signal_type, signal)
        return _unflooded(found), _ratios(matcher)

    def by_media(result: HashResult) -> tuple[dict[str, list[Match]], dict[str, float]]:
        with svc.lock:
            matcher = svc.matcher(None)
            found = _unflooded(matcher.match_result(result))
        per_type: dict[str, list[Match]] = {t: [] for t in result.signals}
        for m in found:
            for t in m.via or (m.signal_type,):
                per_type.setdefault(t, []).append(m)
        return per_type, _ratios(matcher)

    def _unflooded(found: list[Match]) -> list[Match]:
        """The matches of an entry not quarantined as a flood: HMA acts on every match it
        answers, so a quarantined one is left out (and listed in /v1/exchanges/quarantine)."""
        held = svc.floods_in(found)
        return [m for m in found if (m.list, m.entry.key) not in held]

    @router.get("/m/raw_lookup")
    def raw_lookup(key: matcher_key, signal: str, signal_type: str, banks: str | None = None,
                   include_distance: bool = False) -> RawLookup:  # fmt: skip
        found, ratios = by_value(signal_type, signal)
        matches = [m for ms in _by_bank(found, ratios, None, _banks(banks)).values() for m in ms]
        if include_distance:
            return RawLookup.model_validate({"matches": matches})
        return RawLookup(matches=[m["bank_content_id"] for m in matches])

    @router.get("/m/lookup")
    async def lookup(request: Request, key: matcher_key, signal: str | None = None,
                     signal_type: str | None = None, url: str | None = None,
                     banks: str | None = None, bypass_coinflip: bool = False
                     ) -> dict[str, Any]:  # fmt: skip
        flip = coinflip(request, bypass_coinflip)
        if url:
            result = await _hash(svc, request, key, url, True)
            per_type, ratios = await run_in_threadpool(by_media, result)
            answer = {t: _by_bank(ms, ratios, flip, _banks(banks)) for t, ms in per_type.items()}
            return answer.get(signal_type, {}) if signal_type else answer
        if not signal or not signal_type:
            raise UsageError("Either url or both signal and signal_type are required")
        found, ratios = await run_in_threadpool(by_value, signal_type, signal)
        return _by_bank(found, ratios, flip, _banks(banks))

    @router.post("/m/lookup")
    async def lookup_upload(request: Request, key: matcher_key, banks: str | None = None,
                            bypass_coinflip: bool = False) -> dict[str, Any]:  # fmt: skip
        flip = coinflip(request, bypass_coinflip)
        result = await _hash(svc, request, key, None, True)
        per_type, ratios = await run_in_threadpool(by_media, result)
        return {t: _by_bank(ms, ratios, flip, _banks(banks)) for t, ms in per_type.items()}

    @router.post("/m/compare")
    async def compare(request: Request, key: matcher_key) -> dict[str, Any]:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise UsageError("Request input was not a dict")
        out: dict[str, Any] = {}
        for name, pair in body.items():
            if not isinstance(pair, list) or len(pair) != 2:
                raise UsageError(f"Comparison hash list length must be exactly 2 ({name})")
            cls = registry.get(name)
            left, right = (cls.normalize(str(v), f"{name} hash") for v in pair)
            out[name] = list(cls.compare(left, right))
        return out

    @router.get("/m/index/status")
    def index_status(key: matcher_key, signal_type: str | None = None) -> dict[str, Any]:
        sizes = svc.follower.sizes if svc.follower.ready else {}
        names = sorted(indexed_types())
        if signal_type is not None:
            if signal_type not in names:
                raise UsageError(f"No such signal type '{signal_type}'")
            names = [signal_type]
        return {n: {"present": n in sizes, "built_to": svc.follower.current if n in sizes else -1,
                    "size": sizes.get(n, 0)} for n in names}  # fmt: skip

    @router.get("/h/hash")
    async def hash_url(request: Request, key: matcher_key, url: str) -> dict[str, str]:
        result = await _hash(svc, request, key, url)
        return {t: sv.value for t, sv in result.signals.items()}

    @router.post("/h/hash")
    async def hash_upload(request: Request, key: matcher_key) -> dict[str, str]:
        result = await _hash(svc, request, key, None)
        return {t: sv.value for t, sv in result.signals.items()}

    @router.get("/status", response_class=PlainTextResponse, tags=["HMA: status"])
    async def status() -> PlainTextResponse:
        """HMA's readiness check: 503 until the indexes are loaded."""
        ready = svc.follower.ready and svc.follower.error is None
        return PlainTextResponse("I-AM-ALIVE" if ready else "INDEX-NOT-LOADED",
                                 200 if ready else 503)  # fmt: skip

    @router.get("/status/live", response_class=PlainTextResponse, tags=["HMA: status"])
    async def live() -> PlainTextResponse:
        return PlainTextResponse("I-AM-ALIVE")

    return router


async def _hash(svc: Any, request: Request, key: ApiKey, url: str | None,
                variants: bool = False) -> HashResult:  # fmt: skip
    """The request's file (uploaded or fetched), hashed in the sandbox (with ``variants``, its
    rotations and flips too, for matching)."""
    upload, _ = await read_media(svc, request, url)
    result: HashResult = await svc.hash_upload(key, upload, None, variants)
    require_media(upload.name, result)
    return result


def require_media(name: str, result: HashResult) -> None:
    """A photo or video that could not be read is the client's error (400), as in HMA: its file
    digests alone are not an answer."""
    if result.error and not {"pdq", "vpdq"} & set(result.signals):
        raise UsageError(f"{name}: {result.error}")
