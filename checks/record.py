"""Frozen records: ``@record`` is ``@dataclass(frozen=True)`` without its start-up cost.

``dataclass`` writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and, when
frozen, ``__setattr__`` and ``__delattr__`` as source text and compiles it at import: about a
millisecond a class, and a scan defines some ninety (benchmarks/scan.py). Here the
class is still a dataclass (``fields``, ``replace`` and ``asdict`` work on it), but those methods
are shared functions driven by the field list, so defining a class costs a tenth of that.
Instances behave as a frozen dataclass's: positional or keyword arguments, defaults and default
factories, ``__post_init__``, equality and hashing by field values of the same class (those
not marked ``field(compare=False)``), a repr without the fields marked ``field(repr=False)``,
and ``FrozenInstanceError`` on assignment.
"""
from __future__ import annotations

import dataclasses
import operator
from typing import Any, Callable, TypeVar, dataclass_transform

T = TypeVar("T", bound=type)
R = TypeVar("R")
_MISSING: Any = dataclasses.MISSING


def _frozen_setattr(self: object, name: str, value: object) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _values(self: Any) -> tuple[Any, ...]:
    return self.__record_values__(self)  # type: ignore[no-any-return]


def _eq(self: Any, other: object) -> Any:  # bool, or NotImplemented
    if other.__class__ is not self.__class__:
        return NotImplemented
    return bool(_values(self) == _values(other))


def _hash(self: Any) -> int:
    return hash(_values(self))


def _repr(self: Any) -> str:
    inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_shown__)
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
    count = len(names)
    position = {name: i for i, name in enumerate(names)}
    defaults = {f.name: f.default for f in fields if f.default is not _MISSING}
    factories: tuple[tuple[str, Callable[[], Any]], ...] = tuple(
        (f.name, f.default_factory) for f in fields if f.default_factory is not _MISSING)  # type: ignore[misc]
    post_init = getattr(cls, "__post_init__", None)
    qualname = cls.__qualname__

    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        # Values go into the instance's __dict__ in one update: no __setattr__ (frozen) per field.
        if not kwargs and len(args) == count:  # every field positional: most records made in a scan
            self.__dict__.update(zip(names, args))
        else:
            if len(args) > count:
                raise TypeError(f"{qualname}() takes {count} positional arguments but {len(args)} were given")
            values = dict(defaults)
            values.update(zip(names, args))
            if kwargs:
                for name in kwargs:
                    if position.get(name, -1) < len(args):
                        raise TypeError(f"{qualname}() got an unexpected or repeated argument {name!r}")
                values.update(kwargs)
            for name, factory in factories:
                if name not in values:
                    values[name] = factory()
            if len(values) < count:
                missing = [name for name in names if name not in values]
                raise TypeError(f"{qualname}() missing required arguments {missing}")
            self.__dict__.update(values)
        if post_init is not None:
            post_init(self)

    return __init__


def replace(obj: R, /, **changes: Any) -> R:
    """``dataclasses.replace`` for a record, without calling ``__init__`` through the field
    list: the instance's values copied, ``changes`` laid over them, ``__post_init__`` run again."""
    cls = obj.__class__
    names = cls.__record_names__  # type: ignore[attr-defined]
    for name in changes:
        if name not in names:
            raise TypeError(f"{cls.__qualname__}() got an unexpected argument {name!r}")
    new = object.__new__(cls)
    values = new.__dict__
    values.update(zip(names, cls.__record_fields__(obj)))  # type: ignore[attr-defined]  # fields only, as dataclasses.replace takes them
    values.update(changes)
    post_init = getattr(cls, "__post_init__", None)
    if post_init is not None:
        post_init(new)
    return new


def _getter(names: tuple[str, ...]) -> Callable[[object], tuple[Any, ...]]:
    """These fields' values as one tuple, read in C (attrgetter of one name gives the bare value)."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if names:
        one = operator.attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda self: ()


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: T | None = None, *, order: bool = False) -> Any:
    """Make ``cls`` a frozen record (``@record`` or ``@record(order=True)``)."""

    def wrap(cls: T) -> T:
        if not cls.__doc__:  # else dataclass writes one from inspect.signature: milliseconds, tokenize's regexes
            cls.__doc__ = f"{cls.__name__}({', '.join(cls.__dict__.get('__annotations__', {}))})"
        dataclasses.dataclass(init=False, repr=False, eq=False)(cls)  # fields only: returns cls itself
        fields = dataclasses.fields(cls)
        names = tuple(f.name for f in fields)
        compared = tuple(f.name for f in fields if f.compare)  # field(compare=False): not in ==, hash, order
        cls.__record_names__ = names  # type: ignore[attr-defined]
        cls.__record_shown__ = tuple(f.name for f in fields if f.repr)  # type: ignore[attr-defined]  # repr=False: a secret
        cls.__record_fields__ = staticmethod(_getter(names))  # type: ignore[attr-defined]
        cls.__record_values__ = staticmethod(_getter(compared))  # type: ignore[attr-defined]
        methods: dict[str, Any] = {"__init__": _make_init(cls), "__repr__": _repr, "__eq__": _eq, "__hash__": _hash,
                                   "__setattr__": _frozen_setattr, "__delattr__": _frozen_delattr,
                                   "__match_args__": names, **(_ORDER if order else {})}
        for name, method in methods.items():
            # as dataclass does, a method the class body defines is kept (__hash__: a None
            # placed there by Python for a body defining __eq__ does not count)
            if name not in cls.__dict__ or (name == "__hash__" and cls.__dict__[name] is None):
                setattr(cls, name, method)
        return cls

    return wrap if cls is None else wrap(cls)
