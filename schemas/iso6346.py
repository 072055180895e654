"""ISO 6346 container numbers: owner code (3 letters), category (U, J, Z or R), serial, check digit.

The contract applies the check digit to any conveyance id of 4 letters and 7 digits, upper-cased.
"""

import re

_SHAPE = re.compile(r"[A-Za-z]{4}[0-9]{7}")


def _letter_values() -> dict[str, int]:
    # Letters count from 10, skipping multiples of 11 (11, 22, 33), as the standard prescribes.
    values: dict[str, int] = {}
    value = 10
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if value % 11 == 0:
            value += 1
        values[letter] = value
        value += 1
    return values


_VALUES = _letter_values() | {str(d): d for d in range(10)}


def looks_like_container_number(text: str) -> bool:
    """True when ``text`` has the shape of an ISO 6346 number (and so must carry a valid check digit)."""
    return len(text) == 11 and _SHAPE.fullmatch(text) is not None


def check_digit(first_ten: str) -> int:
    """The check digit of the first ten characters (owner, category, serial), upper-cased."""
    total = sum(_VALUES[ch] << i for i, ch in enumerate(first_ten.upper()))
    return total % 11 % 10


def is_valid_container_number(text: str) -> bool:
    """True when ``text`` is an ISO 6346 number whose check digit is right."""
    return looks_like_container_number(text) and check_digit(text[:10]) == int(text[10])
