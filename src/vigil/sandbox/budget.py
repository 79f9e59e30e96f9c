"""What one job may cost."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Budget"]


@dataclass(frozen=True)
class Budget:
    """The limits of one job in a sandboxed worker.

    ``cpu_seconds``: CPU time (user + system) before the worker is killed; ``memory``: bytes of
    address space the job may add to the worker's own; ``wall_seconds``: the deadline by the
    clock, for a worker that blocks or waits for the CPU (default: 10x the CPU budget, at least
    30 s); ``max_cpu_seconds``: the most that :func:`~vigil.sandbox.grant` may raise a job's CPU
    budget to (videos earn CPU time frame by frame)."""

    cpu_seconds: float = 2.0
    memory: int = 2**30
    wall_seconds: float | None = None
    max_cpu_seconds: float = 1800.0

    @property
    def deadline(self) -> float:
        return (
            self.wall_seconds if self.wall_seconds is not None else max(30.0, 10 * self.cpu_seconds)
        )

    def describe_memory(self) -> str:
        return (
            f"{self.memory / 2**30:g} GiB"
            if self.memory >= 2**30
            else f"{self.memory / 2**20:g} MiB"
        )
