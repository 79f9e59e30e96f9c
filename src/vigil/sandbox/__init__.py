"""Untrusted bytes under a budget: decoding, hashing and evidence extraction run in worker
processes with a CPU-time and a memory limit, and a wall-clock deadline. A worker over any of
them is killed and replaced, and the job is an :class:`~vigil.errors.OverBudget` error that
names the input and the reason, so one hostile file costs at most its budget.

```
Sandbox(workers, Budget)        a pool of worker processes (forked from a forkserver)
  .run(fn, *args, source=...)   one job, in the calling thread (thread-safe)
  .imap(fn, jobs, source_of)    many jobs on every worker, results in order, a bounded window
grant(seconds)                  inside a job: more CPU for work that is proportional to real
                                content (a video's decoded frames), up to the budget's cap
```
"""

from vigil.sandbox.budget import Budget
from vigil.sandbox.child import grant
from vigil.sandbox.pool import Sandbox

__all__ = ["Budget", "Sandbox", "grant"]
