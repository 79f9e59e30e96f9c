"""Fair turns at the hashing processes: at most ``slots`` uploads are hashed at once, one key
holds at most half of them (``per_key``), one key has at most ``cap`` uploads running or
waiting (more are :class:`Busy`), and uploads waiting for a turn are served one key at a time,
in rotation. A key that sends many slow (hostile) uploads then leaves the other half
of the processes to everyone else, and its own queue never stands in front of another key's
upload. Runs on the event loop (no thread touches it)."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

__all__ = ["Busy", "FairSlots"]


class Busy(Exception):
    """The key already has ``cap`` uploads running or waiting."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        super().__init__(f"this key already has {cap} uploads in flight")


class FairSlots:
    def __init__(self, slots: int, per_key: int | None = None, cap: int = 0) -> None:
        self.free = max(1, slots)
        self.cap = cap  # uploads one key may have running or waiting (0: any)
        self.per_key = per_key or max(1, self.free // 2)
        self.running: Counter[str] = Counter()
        self.queues: dict[str, deque[anyio.Event]] = {}  # in turn order: the next key first

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        """Hold one slot, waiting for this key's turn if none it may take is free."""
        if self.cap and self.running[key] + len(self.queues.get(key, ())) >= self.cap:
            raise Busy(self.cap)
        if self.free > 0 and key not in self.queues and self.running[key] < self.per_key:
            self.free -= 1
            self.running[key] += 1
        else:
            await self._wait(key)
        try:
            yield
        finally:
            self._release(key)

    async def _wait(self, key: str) -> None:
        turn = anyio.Event()
        self.queues.setdefault(key, deque()).append(turn)
        self._dispatch()
        try:
            await turn.wait()
        except BaseException:  # cancelled (the client went away)
            if turn.is_set():  # the slot was already handed over: pass it on
                self._release(key)
            else:
                self._forget(key, turn)
            raise

    def _forget(self, key: str, turn: anyio.Event) -> None:
        waiting = self.queues.get(key)
        if waiting is not None and turn in waiting:
            waiting.remove(turn)
            if not waiting:
                del self.queues[key]

    def _release(self, key: str) -> None:
        self.running[key] -= 1
        if self.running[key] <= 0:
            del self.running[key]
        self.free += 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand free slots to waiting keys in rotation, each under its share."""
        while self.free > 0:
            key = next((k for k in self.queues if self.running[k] < self.per_key), None)
            if key is None:
                return
            waiting = self.queues.pop(key)
            turn = waiting.popleft()
            if waiting:  # back of the rotation
                self.queues[key] = waiting
            self.free -= 1
            self.running[key] += 1
            turn.set()  # the slot passes straight to the waiter
