"""One way in and out of every frozen config dataclass: mappings (YAML recipes, weights JSON).

:func:`from_dict` builds a dataclass from a mapping, following the field type hints: a nested
config is built from a nested mapping (over the field's default, so a section states only what
differs), a list becomes a tuple (element by element: ``tuple[tuple[float, float], ...]``), an
integer becomes a float where a float is expected, and a value of the wrong type is refused. An
unknown key is a :class:`~bandgen.errors.ConfigError` naming it and the allowed ones.
:func:`to_dict` is the inverse: plain dicts, lists and scalars, JSON- and YAML-able, with
``from_dict(cls, to_dict(x)) == x``.

Config classes inherit :class:`Config` to have both as methods (``NSBGConfig.from_dict(...)``,
``config.to_dict()``); the functions work on any dataclass.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from bandgen.errors import ConfigError

__all__ = ["Config", "check_lr", "from_dict", "to_dict"]

T = TypeVar("T")
C = TypeVar("C", bound="Config")


class Config:
    """Mixin of the frozen config dataclasses: :meth:`from_dict` and :meth:`to_dict`."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (nested configs as dicts, tuples as lists)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any], *, where: str = "") -> C:
        """Build from a recipe/JSON mapping; an unknown key or a bad value is a
        :class:`ConfigError` (``where`` names the mapping in the message, e.g. ``recipe.model``)."""
        return from_dict(cls, values, where=where)


def to_dict(config: Any) -> dict[str, Any]:
    """The fields of dataclass ``config`` as a plain dict (module docstring)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"to_dict needs a dataclass instance, got {config!r}")
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def from_dict(cls: type[T], values: Mapping[str, Any], *, where: str = "") -> T:
    """Build dataclass ``cls`` from ``values`` (module docstring).

    Args:
        cls: a dataclass type.
        values: field values by name; missing fields keep their defaults.
        where: what ``values`` is, for messages (default: the class name).

    Raises:
        ConfigError: ``values`` is not a mapping, has a key that is not a field, or a value of
            the wrong type, or the class refuses the values (its ``__post_init__``).
    """
    where = where or cls.__name__
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in values if k not in fields)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; "
            f"allowed: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {
        key: _convert(value, hints.get(key, Any), f"{where}.{key}", _default(fields[key]))
        for key, value in values.items()
    }
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _convert(value: Any, hint: Any, where: str, default: Any = None) -> Any:
    """``value`` as the type ``hint`` describes (module docstring); ``default`` is the field's
    default, the base a nested mapping is laid over."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or isinstance(hint, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(value, option, where, default)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: bad value {value!r}")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if isinstance(default, hint) and isinstance(value, Mapping):
            value = {**to_dict(default), **value}
        return from_dict(hint, value, where=where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise ConfigError(f"{where} must have {len(args)} elements, got {list(value)!r}")
        if not args:
            return tuple(value)
        return tuple(
            _convert(v, a, f"{where}[{i}]")
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    return _scalar(value, hint, where)


def _scalar(value: Any, hint: Any, where: str) -> Any:
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        extra = " (YAML reads 1e-4 as text: write 1.0e-4)" if isinstance(value, str) else ""
        raise ConfigError(f"{where} must be a number, got {value!r}{extra}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where} must be a whole number, got {value!r}")
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if hint is str and not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, got {value!r}")
    return value


def check_lr(lr: float) -> None:
    """Refuse a learning rate that is not a positive finite number (every optimiser config)."""
    if not math.isfinite(lr) or lr <= 0:
        raise ConfigError(f"lr must be positive, got {lr}")
