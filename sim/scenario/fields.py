"""Which field of the scenario schema a key path names: its type, whether it holds whole
numbers, and the plain Python value a computed number becomes there."""

from __future__ import annotations

import math
import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
from pydantic import BaseModel

from sim.model.schema import Scenario
from sim.scenario.paths import split_path

__all__ = [
    "PathError",
    "field_names_at",
    "is_integer_path",
    "plain_value",
    "schema_at",
    "unwrap",
]


def unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional wrappers from a type annotation."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


class PathError(Exception):
    """A key path that names no field: where it goes wrong, why, and the keys there are."""

    def __init__(self, index: int, message: str, candidates: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.index = index
        self.message = message
        self.candidates = list(candidates)


def _child(tp: Any, seg: str | int, index: int) -> Any:
    tp = unwrap(tp)
    if tp is Any:
        return Any
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        fields = tp.model_fields
        if isinstance(seg, str) and seg in fields:
            return fields[seg].annotation
        raise PathError(index, f"unknown key '{seg}'", list(fields))
    origin = get_origin(tp)
    if origin is dict:
        key_tp, value_tp = get_args(tp)
        key_tp = unwrap(key_tp)
        if get_origin(key_tp) is Literal and seg not in get_args(key_tp):
            raise PathError(index, f"unknown key '{seg}'", [str(a) for a in get_args(key_tp)])
        return value_tp
    if origin in (tuple, list):
        if isinstance(seg, int) or (isinstance(seg, str) and seg.isdigit()):
            return get_args(tp)[0]
        raise PathError(index, f"'{seg}' is not a list position (0, 1, ...)")
    raise PathError(index, f"there is nothing below a single value: no key '{seg}'")


def schema_at(path: Sequence[str | int], root: Any = Scenario) -> Any:
    """The annotation of the field at ``path``; raises :class:`PathError` when there is none."""
    tp = root
    for i, seg in enumerate(path):
        tp = _child(tp, seg, i)
    return tp


def is_integer_path(path: str | Sequence[str | int]) -> bool:
    """True when the scenario field at a dotted path holds whole numbers.

    >>> is_integer_path("provider.pools.h100.initial_chips"), is_integer_path("economics.pue")
    (True, False)
    """
    try:
        leaf = unwrap(schema_at(split_path(path)))
    except PathError:
        return False
    return leaf is int


def field_names_at(path: Sequence[str | int], root: Any = Scenario) -> list[str]:
    """The field names of the model at ``path`` (for did-you-mean), or ``[]``."""
    try:
        tp = unwrap(schema_at(path, root))
    except PathError:
        return []
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def plain_value(path: str | Sequence[str | int], value: Any) -> Any:
    """``value`` as the plain Python value the field at ``path`` takes.

    A numpy scalar becomes a Python number; a finite float is rounded for a field of
    whole numbers (a sampled or fitted chip count).

    >>> plain_value("provider.pools.h100.initial_chips", np.float64(7.6))
    8
    >>> plain_value("economics.pue", 1.25)
    1.25
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isfinite(value) and is_integer_path(path):
        return round(value)
    return value
