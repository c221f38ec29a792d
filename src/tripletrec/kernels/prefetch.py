"""A cache prefetch hint for the numba kernels.

``prefetch(array, index)`` asks the CPU to start loading the cache line that
holds ``array[index]`` (for a 2-d array: the first line of row ``index``),
so that a later read finds it in cache. It compiles to LLVM's
``llvm.prefetch`` (read, keep in all cache levels, data cache): a hint that
never faults and changes no result, only when the memory arrives. Under
``NUMBA_DISABLE_JIT`` it does nothing.

The intrinsic is named ``llvm.prefetch.p0``: LLVM's opaque pointers, as in
the LLVM of numba >= 0.68 (llvmlite 0.50).
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["prefetch"]

if numba.config.DISABLE_JIT:

    def prefetch(array, index):
        """Without the JIT a prefetch hint has nothing to do."""

else:

    @intrinsic
    def prefetch(typingctx, array, index):
        """Hint the CPU to load the cache line of ``array[index]`` (row ``index`` of a 2-d array)."""
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
            # read access, keep in all cache levels, data cache
            builder.call(function, [address, int32(0), int32(3), int32(1)])
            return context.get_dummy_value()

        return types.void(array, index), codegen
