"""Cache prefetch hints for the numba kernels.

``prefetch(array, index)`` asks the CPU to start loading the cache line that
holds ``array[index]`` (for a 2-d array: the first line of row ``index``),
so that a later read finds it in cache. It compiles to LLVM's
``llvm.prefetch`` (read, keep in all cache levels, data cache): a hint that
never faults and changes no result, only when the memory arrives.
``prefetch_write(array, index)`` is the same hint for a line about to be
written (``PREFETCHW`` on x86). Under ``NUMBA_DISABLE_JIT`` both do nothing.

The intrinsic is named ``llvm.prefetch.p0``: LLVM's opaque pointers, as in
the LLVM of numba >= 0.68 (llvmlite 0.50).
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["prefetch", "prefetch_write"]

if numba.config.DISABLE_JIT:

    def prefetch(array, index):
        """Without the JIT a prefetch hint has nothing to do."""

    def prefetch_write(array, index):
        """Without the JIT a prefetch hint has nothing to do."""

else:

    def _prefetch_intrinsic(write):
        # llvm.prefetch(address, rw, locality, cache type): rw 1 compiles to
        # PREFETCHW where the CPU has it, which fetches the line in the
        # exclusive state: a later store then needs no second trip to take
        # the line from another core's cache (Hogwild threads share rows).
        def typer(typingctx, array, index):
            if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
                return None

            def codegen(context, builder, signature, arguments):
                array_type, index_type = signature.args
                array_struct = context.make_array(array_type)(context, builder, arguments[0])
                offset = context.cast(builder, arguments[1], index_type, types.intp)
                stride = builder.extract_value(array_struct.strides, 0)
                base = builder.ptrtoint(array_struct.data, cgutils.intp_t)
                byte_pointer = ir.IntType(8).as_pointer()
                address = builder.inttoptr(builder.add(base, builder.mul(offset, stride)), byte_pointer)
                int32 = ir.IntType(32)
                function = cgutils.get_or_insert_function(
                    builder.module,
                    ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]),
                    "llvm.prefetch.p0",
                )
                # read or write access, keep in all cache levels, data cache
                builder.call(function, [address, int32(1 if write else 0), int32(3), int32(1)])
                return context.get_dummy_value()

            return types.void(array, index), codegen

        return typer

    @intrinsic
    def prefetch(typingctx, array, index):
        """Hint the CPU to load the cache line of ``array[index]`` (row ``index`` of a 2-d array)."""
        return _prefetch_intrinsic(False)(typingctx, array, index)

    @intrinsic
    def prefetch_write(typingctx, array, index):
        """Like :func:`prefetch`, for a line that will be written."""
        return _prefetch_intrinsic(True)(typingctx, array, index)
