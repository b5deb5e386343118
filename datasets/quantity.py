"""Kubernetes resource quantities (``500m``, ``1Gi``, ``2.5G``, ``1e3``).

Grammar (``k8s.io/apimachinery/pkg/api/resource/quantity.go``)::

    quantity ::= <signedNumber><suffix>
    suffix   ::= <binarySI> | <decimalExponent> | <decimalSI>
    binarySI ::= Ki | Mi | Gi | Ti | Pi | Ei
    decimalSI ::= n | u | m | "" | k | M | G | T | P | E
    decimalExponent ::= "e" <signedNumber> | "E" <signedNumber>

Values are parsed exactly (as :class:`~fractions.Fraction`); converting to
the model's integer units rounds requests up and capacities down, so a
request never shrinks and a capacity never grows.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from optsched.errors import DomainError

BINARY_SI = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL_SI = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_NUMBER = re.compile(r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)(.*)$")
_EXPONENT = re.compile(r"^[eE]([+-]?\d+)$")
MAX_EXPONENT = 64  # beyond any real quantity; bounds the work on hostile input


BYTES_PER_MIB = 2**20
MILLIS_PER_CPU = 1000
_NAMED = {
    "cpu": ("cpu_millis", Fraction(MILLIS_PER_CPU)),
    "memory": ("memory_mib", Fraction(1, BYTES_PER_MIB)),
    "ephemeral-storage": ("ephemeral_storage_mib", Fraction(1, BYTES_PER_MIB)),
    "nvidia.com/gpu": ("gpu_count", Fraction(1)),
    "pods": ("pods", Fraction(1)),
}
_NOT_NAME = re.compile(r"[^a-z0-9]+")


def model_resource(name: str) -> tuple[str, Fraction]:
    """The model's resource name for a Kubernetes one, and units per unit."""
    if name in _NAMED:
        return _NAMED[name]
    sanitized = _NOT_NAME.sub("_", name.lower()).strip("_")
    if not sanitized:
        raise DomainError("resources", f"cannot name resource {name!r}")
    if name.startswith("hugepages-"):
        return f"{sanitized}_mib", Fraction(1, BYTES_PER_MIB)
    return sanitized, Fraction(1)


def parse_quantity(value: object, field: str) -> Fraction:
    """The exact value of a quantity string (or a JSON number); a DomainError
    naming ``field`` for anything else, and for negative values."""
    if isinstance(value, bool):
        raise DomainError(field, f"must be a quantity, got {value!r}")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float) and math.isfinite(value):
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise DomainError(field, f"must be a quantity string, got {value!r}")
    m = _NUMBER.match(text)
    if m is None:
        raise DomainError(field, f"not a Kubernetes quantity: {value!r}")
    sign, digits, suffix = m.groups()
    number = Fraction(digits)
    if suffix in BINARY_SI:
        number *= BINARY_SI[suffix]
    elif suffix in DECIMAL_SI:
        number *= DECIMAL_SI[suffix]
    elif (e := _EXPONENT.match(suffix)) and abs(int(e.group(1))) <= MAX_EXPONENT:
        number *= Fraction(10) ** int(e.group(1))
    else:
        raise DomainError(field, f"unknown quantity suffix {suffix!r} in {value!r}")
    if sign == "-" and number != 0:
        raise DomainError(field, f"must not be negative, got {value!r}")
    return number


def round_up(value: Fraction, per_unit: Fraction | int = 1) -> int:
    """``value`` in units of ``1/per_unit``, rounded up (requests)."""
    return math.ceil(value * per_unit)


def round_down(value: Fraction, per_unit: Fraction | int = 1) -> int:
    """``value`` in units of ``1/per_unit``, rounded down (capacities)."""
    return math.floor(value * per_unit)
