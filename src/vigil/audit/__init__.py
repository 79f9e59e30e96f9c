"""Dataset audits (issue 22): check a training dataset (a folder tree, webdataset / img2dataset
tar shards, parquet with image bytes, or parquet of metadata only) against the lists, shard by
shard, resumable, with a removal list for its maintainers. :mod:`.sources` reads the forms,
:mod:`.work` is one sample's work in a sandboxed worker, :mod:`.engine` the local engine, and
:mod:`.outputs` what is handed over. See docs/audit.md."""

from vigil.audit.engine import Run
from vigil.audit.outputs import finish
from vigil.audit.sources import Sample, Shard, shards_of

__all__ = ["Run", "Sample", "Shard", "finish", "shards_of"]
