"""Numba text parser for delimited rating files (no I/O: it reads a bytes buffer)."""

import numba
import numpy as np

# ------------------------------------------------------------------ kernel
# The row parser is a numba kernel: numpy's C reader (loadtxt) runs about 4x
# slower, which for ml-25m's 25 million rows is the difference between a few
# seconds and most of a minute.
_NEWLINE = 10
_CARRIAGE_RETURN = 13
_SPACE = 32
_DOT = 46
_ZERO = 48
_MAX_DIGITS = 18  # every 18-digit integer fits in int64


@numba.njit(cache=True)
def _read_number(text, position, allow_fraction):
    """Read digits (and, if allowed, ``.digits``) starting at ``position``.

    Returns
    -------
    whole : int64
    fraction : float64
    position : int
        Just past the number.
    ok : bool
        At least one and at most 18 digits.
    """
    n = len(text)
    whole = 0
    digits = 0
    while position < n:
        digit = np.int64(text[position]) - _ZERO
        if digit < 0 or digit > 9:
            break
        if digits < _MAX_DIGITS:  # longer numbers are rejected; do not overflow
            whole = whole * 10 + digit
        digits += 1
        position += 1
    fraction = 0.0
    if allow_fraction and position < n and text[position] == _DOT:
        position += 1
        fraction_digits = 0
        numerator = 0
        while position < n:
            digit = np.int64(text[position]) - _ZERO
            if digit < 0 or digit > 9:
                break
            if fraction_digits < _MAX_DIGITS:
                numerator = numerator * 10 + digit
            fraction_digits += 1
            position += 1
        digits += fraction_digits
        # One correctly rounded division, so "0.1" parses exactly as float("0.1").
        if fraction_digits <= _MAX_DIGITS:
            fraction = numerator / 10.0**fraction_digits
    return whole, fraction, position, 0 < digits <= _MAX_DIGITS


@numba.njit(cache=True)
def _after_separator(text, position, separator):
    """Position after ``separator`` at ``position``, or -1 if it is not there."""
    for k in range(len(separator)):
        if position >= len(text) or text[position] != separator[k]:
            return -1
        position += 1
    return position


@numba.njit(cache=True)
def parse_rating_rows(text, position, separator, users, items, ratings, timestamps):
    """Parse ``user<sep>item<sep>rating<sep>timestamp`` lines.

    Blank lines are skipped; a carriage return or spaces before a newline are
    allowed. Parsing stops at the end of ``text``, at the first line that does
    not parse, or when the output arrays are full.

    Parameters
    ----------
    text : ndarray, shape (n_bytes,), uint8
        Whole lines (the last one may lack its newline).
    position : int
        Where in ``text`` to start (the start of a line).
    separator : ndarray, shape (1,) or (2,), uint8
        The field separator, e.g. ``b","`` or ``b"::"``.
    users, items : ndarray, shape (capacity,), int64
        Receive the ids of the rows read.
    ratings : ndarray, shape (capacity,), float32
    timestamps : ndarray, shape (capacity,), int64

    Returns
    -------
    n_rows : int
        Rows written to the output arrays.
    position : int
        Where parsing stopped: ``len(text)``, or the start of the line not
        read (full output, or the bad line).
    n_lines : int
        Newline-terminated lines consumed (rows and blank lines), plus one
        for a last row without a newline.
    ok : bool
        False when the line at ``position`` does not parse.
    """
    n = len(text)
    capacity = len(users)
    row = 0
    line = 0
    while position < n:
        line_start = position
        while position < n and (text[position] == _CARRIAGE_RETURN or text[position] == _SPACE):
            position += 1
        if position >= n:
            break
        if text[position] == _NEWLINE:
            position += 1
            line += 1
            continue
        if row == capacity:
            return row, line_start, line, True
        position = line_start
        user, _, position, ok = _read_number(text, position, False)
        item = 0
        whole = 0
        fraction = 0.0
        stamp = 0
        if ok:
            position = _after_separator(text, position, separator)
            ok = position >= 0
        if ok:
            item, _, position, ok = _read_number(text, position, False)
        if ok:
            position = _after_separator(text, position, separator)
            ok = position >= 0
        if ok:
            whole, fraction, position, ok = _read_number(text, position, True)
        if ok:
            position = _after_separator(text, position, separator)
            ok = position >= 0
        if ok:
            stamp, _, position, ok = _read_number(text, position, False)
        if ok:
            while position < n and (text[position] == _CARRIAGE_RETURN or text[position] == _SPACE):
                position += 1
            ok = position >= n or text[position] == _NEWLINE
        if not ok:
            return row, line_start, line, False
        users[row] = user
        items[row] = item
        ratings[row] = whole + fraction
        timestamps[row] = stamp
        row += 1
        line += 1
        position += 1
    return row, min(position, n), line, True
