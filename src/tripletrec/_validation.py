"""One home for argument validation.

Every public entry point checks its arguments with the functions here, so
one rule holds everywhere:

* an integer is a Python ``int`` or a numpy integer, never a ``bool`` and
  never a float, even an integral one (``k=10.0`` is refused: a float where
  a count belongs is usually a bug upstream);
* a real number is any int or float (numpy's too), never a ``bool``, and
  must be finite;
* an option is one of a fixed tuple of strings;
* a flag is ``True`` or ``False`` (numpy's ``bool_`` too).

Models declare their constructor arguments as a table of constraints
(``_parameter_constraints``, as scikit-learn does) and
:func:`validate_parameters` checks them all at once, reporting every bad
argument in one error.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Flag",
    "Integer",
    "Options",
    "Real",
    "Satisfies",
    "check_flag",
    "check_index_array",
    "check_integer",
    "check_memory",
    "check_option",
    "check_real",
    "is_integer",
    "is_real",
    "physical_memory_bytes",
    "validate_parameters",
]


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an int or numpy integer (not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """Whether ``value`` is an int or float, Python's or numpy's (not a bool)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _bounds_phrase(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts)


@dataclass(frozen=True)
class Integer:
    """An integer in ``[low, high]`` (either bound optional)."""

    low: int | None = None
    high: int | None = None

    def problem(self, value: Any) -> str | None:
        wanted = f"an integer {_bounds_phrase(self.low, self.high, False, False)}".rstrip()
        if not is_integer(value):
            return wanted
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return wanted
        return None

    def convert(self, value: Any) -> int:
        return int(value)


@dataclass(frozen=True)
class Real:
    """A finite real number between ``low`` and ``high``; ``low_open`` excludes ``low``."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def problem(self, value: Any) -> str | None:
        bounds = _bounds_phrase(self.low, self.high, self.low_open, self.high_open)
        wanted = f"a finite number {bounds}".rstrip()
        if not is_real(value) or not math.isfinite(value):
            return wanted
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return wanted
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return wanted
        return None

    def convert(self, value: Any) -> float:
        return float(value)


@dataclass(frozen=True)
class Options:
    """One of a fixed tuple of strings."""

    values: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        if isinstance(value, str) and value in self.values:
            return None
        return f"one of {', '.join(repr(option) for option in self.values)}"

    def convert(self, value: Any) -> str:
        return value


@dataclass(frozen=True)
class Flag:
    """``True`` or ``False``."""

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, (bool, np.bool_)) else "True or False"

    def convert(self, value: Any) -> bool:
        return bool(value)


@dataclass(frozen=True)
class Satisfies:
    """Any value for which ``test(value)`` is true; ``description`` says what that means."""

    test: Callable[[Any], bool]
    description: str

    def problem(self, value: Any) -> str | None:
        try:
            return None if self.test(value) else self.description
        except (AttributeError, TypeError, ValueError):
            return self.description

    def convert(self, value: Any) -> Any:
        return value


Constraint = Any  # Integer | Real | Options | Flag | Satisfies | None (None admits the value None)


def _problem(value: Any, constraints: Iterable[Constraint]) -> str | None:
    """None when ``value`` meets one of ``constraints``, else what it should be."""
    wanted = []
    for constraint in constraints:
        if constraint is None:
            if value is None:
                return None
            wanted.append("None")
            continue
        problem = constraint.problem(value)
        if problem is None:
            return None
        wanted.append(problem)
    return " or ".join(wanted)


def validate_parameters(
    constraints: Mapping[str, Iterable[Constraint]], params: Mapping[str, Any], owner: str
) -> dict[str, Any]:
    """Check every parameter against its constraints; report all problems at once.

    Parameters
    ----------
    constraints : mapping of str to sequence of constraints
        For each parameter the constraints it may meet (any one suffices);
        ``None`` in the sequence admits the value ``None``.
    params : mapping of str to object
        The values, e.g. ``model.get_params()``.
    owner : str
        Named in the error, e.g. ``"MatrixFactorization"``.

    Returns
    -------
    dict of str to object
        The values converted to plain Python types (``int``, ``float``,
        ``bool``, ``str`` or ``None``), by name.

    Raises
    ------
    ValueError
        Naming every parameter that meets none of its constraints, its
        value and what it must be.
    """
    problems = []
    converted = {}
    for name, allowed in constraints.items():
        value = params[name]
        allowed = tuple(allowed)
        problem = _problem(value, allowed)
        if problem is not None:
            problems.append(f"{name} must be {problem}, got {value!r}")
            continue
        converter = next(
            (constraint for constraint in allowed if constraint is not None and constraint.problem(value) is None),
            None,
        )
        converted[name] = value if converter is None else converter.convert(value)
    if len(problems) == 1:
        raise ValueError(f"{owner}: {problems[0]}")
    if problems:
        raise ValueError(f"{owner} has {len(problems)} invalid parameters: " + "; ".join(problems))
    return converted


def _check(value: Any, name: str, constraint: Constraint, allow_none: bool) -> Any:
    allowed = (constraint, None) if allow_none else (constraint,)
    problem = _problem(value, allowed)
    if problem is not None:
        raise ValueError(f"{name} must be {problem}, got {value!r}")
    return None if value is None else constraint.convert(value)


def check_integer(
    value: Any, name: str, *, low: int | None = None, high: int | None = None, allow_none: bool = False
) -> int | None:
    """``value`` as an ``int`` in ``[low, high]``, else ``ValueError`` naming ``name``."""
    return _check(value, name, Integer(low, high), allow_none)


def check_real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> float | None:
    """``value`` as a finite ``float`` within the bounds, else ``ValueError`` naming ``name``."""
    return _check(value, name, Real(low, high, low_open, high_open), allow_none)


def check_option(value: Any, name: str, options: Iterable[str], *, allow_none: bool = False) -> str | None:
    """``value`` if it is one of ``options``, else ``ValueError`` listing them."""
    return _check(value, name, Options(tuple(options)), allow_none)


def check_flag(value: Any, name: str) -> bool:
    """``value`` as a ``bool`` if it is ``True`` or ``False``, else ``ValueError``."""
    return _check(value, name, Flag(), False)


def physical_memory_bytes() -> int | None:
    """The machine's physical memory in bytes, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def check_memory(n_bytes: int, what: str, cause: str) -> None:
    """Refuse an allocation larger than the machine's memory before making it.

    Parameters
    ----------
    n_bytes : int
        What the allocation needs.
    what : str
        What would be allocated, e.g. ``"the model's parameters"``.
    cause : str
        The argument that sets the size, named in the error, e.g. ``"dim"``.

    Raises
    ------
    ValueError
        When ``n_bytes`` exceeds the physical memory (numpy would otherwise
        fail with a raw ``MemoryError``, or the machine would start swapping).
    """
    available = physical_memory_bytes()
    if available is not None and n_bytes > available:
        raise ValueError(
            f"{what} would need {n_bytes / 2**30:.3g} GiB but this machine has "
            f"{available / 2**30:.3g} GiB of memory; lower {cause}"
        )


def check_index_array(values: Any, size: int, name: str) -> np.ndarray:
    """``values`` as a 1-D int64 array of dense indices in ``0 .. size - 1``.

    A single index becomes an array of one. Integer dtypes only: floats, even
    integral ones, are refused like any other non-integer.

    Raises
    ------
    ValueError
        Naming ``name``, the count outside the range and the first one.
    """
    indices = np.asarray(values)
    if indices.ndim == 0:
        indices = indices.reshape(1)
    if indices.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional array of dense indices, got shape {indices.shape}")
    if len(indices) and indices.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer dense indices, got dtype {indices.dtype}")
    indices = indices.astype(np.int64, copy=False)
    bad = (indices < 0) | (indices >= size)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}: {int(bad.sum())} of {len(indices)} indices are outside 0..{size - 1} "
            f"(first at position {first}: {int(indices[first])})"
        )
    return indices
