"""Compiled copies of kernel templates, one per combination of compile-time constants.

A kernel that handles every loss, optimizer and sampler in one function makes
numba type and LLVM optimise code that a given fit never runs, which was
most of a first fit's time. The training kernels are instead written as
plain-Python *templates* that read their loss family, optimizer and sampler
from module constants; :func:`compile_variant` copies the templates into a
namespace where those constants hold one combination's codes, so numba
prunes the other branches before typing them.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numba

__all__ = ["compile_variant"]


def compile_variant(
    templates: Sequence[tuple[Callable, Mapping[str, Any]]],
    namespace: Mapping[str, Any],
    constants: Mapping[str, Any],
    suffix: str,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """Jit a copy of each template with ``constants`` as module globals.

    Parameters
    ----------
    templates : sequence of (function, dict)
        The templates in calling order (callees first) with their own jit
        options; each copy is bound to its name in the new namespace, so the
        copies call each other.
    namespace : mapping
        The templates' module globals (``globals()`` of their module).
    constants : mapping
        Globals to override, e.g. ``{"_OPTIMIZER": 3}``.
    suffix : str
        Appended to each copy's qualified name: numba keys its on-disk cache
        by it, which keeps the variants' cached machine code apart.
    options : mapping
        Jit options for every copy (``cache``, ``fastmath`` ...).

    Returns
    -------
    dict
        The new namespace: ``result[template.__name__]`` is the compiled
        copy (the plain function under ``NUMBA_DISABLE_JIT``).
    """
    copies = dict(namespace)
    copies.update(constants)
    for template, template_options in templates:
        copy = types.FunctionType(
            template.__code__, copies, template.__name__, template.__defaults__, template.__closure__
        )
        copy.__qualname__ = template.__qualname__ + suffix
        copy.__doc__ = template.__doc__
        copies[template.__name__] = numba.njit(**template_options, **options)(copy)
    return copies
