"""A software prefetch for numba code: ``prefetch(arr, i)`` asks the CPU to start loading
``arr[i]`` (a 1-D array) into cache and returns at once. Overlapping the cache misses of the
index's random reads this way is what makes a query fast at ten million hashes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch"]


@intrinsic
def _prefetch_intrinsic(typingctx: Any, arr: Any, idx: Any) -> Any:  # pragma: no cover - compiled
    """Ask the CPU to start loading ``arr[idx]`` (1-D array) into cache; returns at once."""
    sig = types.void(arr, idx)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(
            fn,
            [
                builder.bitcast(ptr, i8p),
                ir.Constant(i32, 0),
                ir.Constant(i32, 3),
                ir.Constant(i32, 1),
            ],
        )
        return context.get_dummy_value()

    return sig, codegen


prefetch: Callable[[Any, int], None] = _prefetch_intrinsic  # type: ignore[assignment]
