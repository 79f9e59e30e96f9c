"""Bounded request parameters: a number no database column holds is a 422, never a 500."""

from typing import Annotated

from fastapi import Path, Query

__all__ = ["Limit", "RowId"]

Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many (1-1000).")]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
