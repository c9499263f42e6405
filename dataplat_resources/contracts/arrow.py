"""Derive Arrow schemas from the contract models, so bronze tables follow the contracts.

A union of models (CDC row images, external record kinds) becomes one struct or set of
columns holding every member's fields, all nullable where a member lacks them.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
import uuid
from typing import Any, Literal, Union

import pyarrow as pa
from pydantic import AwareDatetime, BaseModel

TIMESTAMP = pa.timestamp("us", tz="UTC")


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> tuple[list[Any], bool]:
    """Members of a union (Annotated wrappers removed) and whether None is one of them."""
    annotation = _strip_annotated(annotation)
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [_strip_annotated(a) for a in typing.get_args(annotation)]
        nullable = type(None) in members
        return [m for m in members if m is not type(None)], nullable
    return [annotation], False


def _scalar_type(annotation: Any) -> pa.DataType:
    if typing.get_origin(annotation) is Literal:
        values = typing.get_args(annotation)
        if all(isinstance(v, str) for v in values):
            return pa.string()
        raise TypeError(f"unsupported Literal {annotation!r}")
    if annotation is AwareDatetime:
        return TIMESTAMP
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return pa.struct(model_fields(annotation))
        if issubclass(annotation, bool):
            return pa.bool_()
        if issubclass(annotation, enum.Enum) or issubclass(annotation, str | uuid.UUID):
            return pa.string()
        if issubclass(annotation, int):
            return pa.int64()
        if issubclass(annotation, float):
            return pa.float64()
        if issubclass(annotation, dt.datetime):
            return TIMESTAMP
    raise TypeError(f"no Arrow type for {annotation!r}")


def _merge(name: str, types_: list[pa.DataType]) -> pa.DataType:
    first = types_[0]
    if all(t == first for t in types_):
        return first
    if all(pa.types.is_struct(t) for t in types_):
        return pa.struct(merge_fields([list(t) for t in types_]))
    raise TypeError(f"field {name!r} has conflicting types across union members: {types_}")


def arrow_type(name: str, annotation: Any) -> tuple[pa.DataType, bool]:
    members, nullable = _union_members(annotation)
    return _merge(name, [_scalar_type(m) for m in members]), nullable


def model_fields(model: type[BaseModel]) -> list[pa.Field]:
    fields = []
    for name, info in model.model_fields.items():
        data_type, nullable = arrow_type(name, info.annotation)
        optional = nullable or not info.is_required()
        fields.append(pa.field(info.alias or name, data_type, nullable=optional))
    return fields


def merge_fields(field_lists: list[list[pa.Field]]) -> list[pa.Field]:
    """Union of fields by name, in first-seen order; a field missing from a member becomes nullable."""
    order: list[str] = []
    seen: dict[str, list[pa.Field]] = {}
    for fields in field_lists:
        for f in fields:
            if f.name not in seen:
                order.append(f.name)
                seen[f.name] = []
            seen[f.name].append(f)
    merged = []
    for name in order:
        group = seen[name]
        nullable = len(group) < len(field_lists) or any(f.nullable for f in group)
        merged.append(pa.field(name, _merge(name, [f.type for f in group]), nullable=nullable))
    return merged


def schema_for(*models: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of one model, or of the union of several."""
    return pa.schema(merge_fields([model_fields(m) for m in models]))
