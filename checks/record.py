"""Frozen records: ``@record`` is ``@dataclass(frozen=True)`` without its start-up cost.

``dataclass`` writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and, when
frozen, ``__setattr__`` and ``__delattr__`` as source text and compiles it at import: about a
millisecond a class, and a scan imports some fifty fact classes (benchmarks/scan.py). Here the
class is still a dataclass (``fields``, ``replace`` and ``asdict`` work on it), but those methods
are shared functions driven by the field list, so defining a class costs a tenth of that.
Instances behave as a frozen dataclass's: positional or keyword arguments, defaults and default
factories, ``__post_init__``, equality and hashing by field values of the same class, and
``FrozenInstanceError`` on assignment.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar, dataclass_transform

T = TypeVar("T", bound=type)
_MISSING: Any = dataclasses.MISSING


def _frozen_setattr(self: object, name: str, value: object) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in self.__record_names__)


def _eq(self: Any, other: object) -> Any:  # bool, or NotImplemented
    if other.__class__ is not self.__class__:
        return NotImplemented
    return bool(_values(self) == _values(other))


def _hash(self: Any) -> int:
    return hash(_values(self))


def _repr(self: Any) -> str:
    inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_names__)
    return f"{self.__class__.__qualname__}({inner})"


def _comparison(compare: Callable[[tuple[Any, ...], tuple[Any, ...]], bool]) -> Callable[[Any, object], Any]:
    def method(self: Any, other: object) -> Any:  # bool, or NotImplemented
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(compare(_values(self), _values(other)))

    return method


_ORDER = {"__lt__": _comparison(lambda a, b: a < b), "__le__": _comparison(lambda a, b: a <= b),
          "__gt__": _comparison(lambda a, b: a > b), "__ge__": _comparison(lambda a, b: a >= b)}


def _make_init(cls: type) -> Callable[..., None]:
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields)
    known = frozenset(names)
    defaults: tuple[tuple[Any, Any], ...] = tuple((f.default, f.default_factory) for f in fields)
    setter = object.__setattr__
    post_init = getattr(cls, "__post_init__", None)
    qualname = cls.__qualname__

    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{qualname}() takes {len(names)} positional arguments but {len(args)} were given")
        for name, value in zip(names, args):
            setter(self, name, value)
        if kwargs:
            for name in kwargs:
                if name not in known or names.index(name) < len(args):
                    raise TypeError(f"{qualname}() got an unexpected or repeated argument {name!r}")
        for i in range(len(args), len(names)):
            name = names[i]
            if name in kwargs:
                setter(self, name, kwargs[name])
                continue
            default, factory = defaults[i]
            if default is not _MISSING:
                setter(self, name, default)
            elif factory is not _MISSING:
                setter(self, name, factory())
            else:
                raise TypeError(f"{qualname}() missing required argument {name!r}")
        if post_init is not None:
            post_init(self)

    return __init__


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: T | None = None, *, order: bool = False) -> Any:
    """Make ``cls`` a frozen record (``@record`` or ``@record(order=True)``)."""

    def wrap(cls: T) -> T:
        dataclasses.dataclass(init=False, repr=False, eq=False)(cls)  # fields only: returns cls itself
        cls.__record_names__ = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[attr-defined]
        cls.__init__ = _make_init(cls)  # type: ignore[misc]
        cls.__repr__ = _repr  # type: ignore[assignment]
        cls.__eq__ = _eq  # type: ignore[assignment]
        cls.__hash__ = _hash  # type: ignore[assignment]
        cls.__setattr__ = _frozen_setattr  # type: ignore[assignment]
        cls.__delattr__ = _frozen_delattr  # type: ignore[assignment]
        cls.__match_args__ = cls.__record_names__  # type: ignore[attr-defined,misc]
        if order:
            for name, method in _ORDER.items():
                setattr(cls, name, method)
        return cls

    return wrap if cls is None else wrap(cls)
