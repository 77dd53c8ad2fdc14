"""Typed loading of YAML mappings onto frozen dataclasses, with errors an operator can act on.

One generic walker serves the main config, the contract and every other YAML file: each dataclass field's
type hint says what is allowed; ``field(metadata={"min": .., "max": .., "choices": ..})`` adds ranges.
All problems of a file are collected and reported together as ``file: key.path: problem``, so an
operator fixes a file in one pass instead of one error per restart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import ipaddress
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from slaprobe.textio import TextEncodingError, read_text

T = TypeVar("T")


class ConfigError(Exception):
    """One or more problems in one file; ``problems`` lists them all, each naming its key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping.

    Plain YAML keeps the last value silently, so ``threshold: 0.75`` followed twenty lines later by
    ``threshold: 0.5`` would change a contract without anyone noticing. Merge keys (``<<``) may still be
    overridden: that is what they are for.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # unhashable key: SafeConstructor reports it
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first given on line {first + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys (:class:`UniqueKeyLoader`)."""
    return yaml.load(text, Loader=UniqueKeyLoader)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """``line L, column C: invalid YAML: problem`` for a parse error."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    return f"{where}invalid YAML: {getattr(exc, 'problem', None) or exc}"


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file (any encoding :mod:`slaprobe.textio` reads), turning every problem into a
    ConfigError that names the file and the line."""
    p = Path(path)
    try:
        text = read_text(p)
    except OSError as exc:
        raise ConfigError(str(p), [f"cannot read: {exc.strerror or exc}"]) from exc
    except TextEncodingError as exc:
        raise ConfigError(str(p), [exc.problem]) from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(p), [yaml_problem(exc)]) from exc


def load_dataclass(cls: type[T], data: Any, source: str, path: str = "") -> T:
    """Build ``cls`` from a parsed mapping; raise ConfigError listing every problem."""
    problems: list[str] = []
    value = _convert(cls, data, path, problems)
    if problems:
        raise ConfigError(source, problems)
    return value


def _label(path: str) -> str:
    return path or "(top level)"


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return "one of " + ", ".join(repr(m.value) for m in tp)
        return {
            int: "an integer",
            float: "a number",
            str: "a string",
            bool: "true or false",
            decimal.Decimal: "a decimal number written as a string, e.g. '960.00'",
            dt.date: "a date YYYY-MM-DD",
            dt.datetime: "a date-time (ISO 8601 with timezone)",
            Path: "a path",
        }.get(tp, tp.__name__)
    return str(tp)


def _convert(tp: Any, value: Any, path: str, problems: list[str]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _convert(non_none[0], value, path, problems)
        for arg in non_none:  # first alternative that converts cleanly
            trial: list[str] = []
            out = _convert(arg, value, path, trial)
            if not trial:
                return out
        problems.append(f"{_label(path)}: expected {' or '.join(_type_name(a) for a in non_none)}")
        return None
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, value, path, problems)
    if origin in (list, tuple, frozenset):
        if value is None:
            value = []
        if not isinstance(value, list):
            problems.append(f"{_label(path)}: expected a list, got {type(value).__name__}")
            return origin()
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        items = [_convert(item_tp, v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
        return origin(items)
    if origin in (dict, Mapping) or tp is dict:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            problems.append(f"{_label(path)}: expected a mapping, got {type(value).__name__}")
            return {}
        key_tp, val_tp = typing.get_args(tp) or (str, Any)
        return {
            _convert(key_tp, str(k), f"{path}.{k}", problems): _convert(val_tp, v, f"{path}.{k}", problems)
            for k, v in value.items()
        }
    if tp is Any:
        return value
    return _convert_scalar(tp, value, path, problems)


def _convert_scalar(tp: Any, value: Any, path: str, problems: list[str]) -> Any:
    bad = f"{_label(path)}: expected {_type_name(tp)}, got {value!r}"
    if tp is bool:
        if isinstance(value, bool):
            return value
        problems.append(bad)
        return False
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        problems.append(bad)
        return 0
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                problems.append(f"{_label(path)}: expected a finite number, got {value!r}")
                return 0.0
            return float(value)
        problems.append(bad)
        return 0.0
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        problems.append(bad)
        return ""
    if tp is Path:
        if isinstance(value, str) and value:
            return Path(value)
        problems.append(bad)
        return Path()
    if tp is decimal.Decimal:
        if isinstance(value, float):
            problems.append(
                f"{_label(path)}: money must be written as a string (e.g. '960.00'), not {value!r}"
            )
            return decimal.Decimal(0)
        try:
            return decimal.Decimal(str(value))
        except (decimal.InvalidOperation, ValueError):
            problems.append(bad)
            return decimal.Decimal(0)
    if tp is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            problems.append(bad)
            return dt.date.min
    if tp is dt.datetime:
        try:
            out = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        except ValueError:
            problems.append(bad)
            return dt.datetime.min
        if out.tzinfo is None:
            problems.append(f"{_label(path)}: {value!r} has no timezone (write e.g. +08:00 or Z)")
        return out
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            problems.append(bad)
            return next(iter(tp))
    if tp in (ipaddress.IPv4Address, ipaddress.IPv6Address) or tp is ipaddress.ip_address:
        try:
            return ipaddress.ip_address(str(value))
        except ValueError:
            problems.append(f"{_label(path)}: {value!r} is not an IP address")
            return None
    problems.append(f"{_label(path)}: unsupported type {tp!r}")
    return None


def _convert_dataclass(cls: Any, value: Any, path: str, problems: list[str]) -> Any:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problems.append(f"{_label(path)}: expected a mapping, got {type(value).__name__}")
        value = {}
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    keys = {f.metadata.get("key", f.name): f for f in fields.values()}
    for key in value:
        if key not in keys:
            near = ", ".join(sorted(keys))
            problems.append(f"{path + '.' if path else ''}{key}: unknown key (allowed here: {near})")
    kwargs: dict[str, Any] = {}
    missing_required = False
    for key, f in keys.items():
        sub = f"{path}.{key}" if path else str(key)
        if key not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                problems.append(f"{sub}: required key is missing")
                missing_required = True
            continue
        before = len(problems)
        converted = _convert(hints[f.name], value[key], sub, problems)
        if len(problems) == before:
            _check_range(f, converted, sub, problems)
        kwargs[f.name] = converted
    if missing_required:
        return None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # a settings class that checks itself: every problem it names
        problems.extend(f"{_label(path)}: {p}" for p in getattr(exc, "problems", None) or [str(exc)])
        return None


def _check_range(f: dataclasses.Field, value: Any, path: str, problems: list[str]) -> None:
    meta = f.metadata
    if value is None:
        return
    if "min" in meta and value < meta["min"]:
        problems.append(f"{path}: {value!r} is below the minimum {meta['min']!r}")
    if "max" in meta and value > meta["max"]:
        problems.append(f"{path}: {value!r} is above the maximum {meta['max']!r}")
    if "choices" in meta and value not in meta["choices"]:
        problems.append(f"{path}: {value!r} is not one of {', '.join(map(repr, meta['choices']))}")


def opt(default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """A dataclass field with range metadata: ``count: int = opt(5, min=1, max=1000)``."""
    if isinstance(default, list | dict | set):
        factory = type(default)
        value = default
        return dataclasses.field(default_factory=lambda: factory(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
