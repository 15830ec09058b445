"""checks.record behaves as dataclass(frozen=True) for everything the project's records use."""
from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from checks.facts import FactKey
from checks.record import record, replace as record_replace


@record
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)


@dataclasses.dataclass(frozen=True)
class Twin:
    x: int
    y: int = 0
    tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)


@record
class Checked:
    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("negative")


CALLS = [((1,), {}), ((1, 2), {}), ((), {"x": 1, "y": 2}), ((1,), {"tags": ("a",)}), ((1, 2, ("b",)), {})]
BAD = [((), {}), ((1, 2, (), 4), {}), ((1,), {"x": 2}), ((1,), {"z": 3})]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_construction_equality_hash_and_repr_match_a_frozen_dataclass(args: tuple, kwargs: dict) -> None:
    mine, theirs = Point(*args, **kwargs), Twin(*args, **kwargs)
    assert dataclasses.astuple(mine) == dataclasses.astuple(theirs)
    assert mine == Point(*args, **kwargs) and hash(mine) == hash(Point(*args, **kwargs))
    assert repr(mine) == repr(theirs).replace("Twin", "Point")
    assert mine != theirs  # another class is never equal, as with dataclasses


@pytest.mark.parametrize(("args", "kwargs"), BAD)
def test_wrong_arguments_are_a_type_error_as_with_a_dataclass(args: tuple, kwargs: dict) -> None:
    with pytest.raises(TypeError):
        Twin(*args, **kwargs)
    with pytest.raises(TypeError):
        Point(*args, **kwargs)


def test_frozen_replace_copy_pickle_match_and_post_init() -> None:
    p = Point(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.x  # type: ignore[misc]
    assert dataclasses.replace(p, y=5) == Point(1, 5)
    assert copy.deepcopy(p) == p and pickle.loads(pickle.dumps(p)) == p
    assert Point(1).tags == ()
    match p:
        case Point(x, y):
            assert (x, y) == (1, 2)
    with pytest.raises(ValueError):
        Checked(-1)
    assert Checked(2).n == 2


def test_order_compares_field_values_in_order() -> None:
    keys = [FactKey("files", "/b"), FactKey("files", "/a"), FactKey("accounts")]
    assert sorted(keys) == [FactKey("accounts"), FactKey("files", "/a"), FactKey("files", "/b")]
    assert FactKey("a") < FactKey("b") <= FactKey("b") and FactKey("c") > FactKey("b") >= FactKey("b")


@record
class One:
    v: str


@record
class Empty:
    pass


def test_one_and_no_field_records_compare_and_hash_by_value() -> None:
    assert One("a") == One("a") != One("b") and hash(One("a")) == hash(One("a"))
    assert Empty() == Empty() and hash(Empty()) == hash(Empty()) and repr(Empty()) == "Empty()"


@record
class Shown:
    v: int

    def __repr__(self) -> str:
        return f"<{self.v}>"


def test_a_method_the_class_defines_is_kept() -> None:
    assert repr(Shown(1)) == "<1>" and Shown(1) == Shown(1)


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_record_replace_matches_dataclasses_replace(args: tuple, kwargs: dict) -> None:
    for changes in ({}, {"y": 7}, {"x": 9, "tags": ("c",)}):
        mine = record_replace(Point(*args, **kwargs), **changes)
        assert mine == dataclasses.replace(Point(*args, **kwargs), **changes)
        assert dataclasses.astuple(mine) == dataclasses.astuple(dataclasses.replace(Twin(*args, **kwargs), **changes))
    with pytest.raises(TypeError):
        record_replace(Point(1), z=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record_replace(Point(1), y=2).y = 3  # type: ignore[misc]
    with pytest.raises(ValueError):  # __post_init__ runs again, as replace runs __init__
        record_replace(Checked(1), n=-1)


def test_a_record_without_a_docstring_gets_one_naming_its_fields() -> None:
    @record
    class Bare:
        a: int
        b: str = ""

    assert Bare.__doc__ == "Bare(a, b)"


def test_repr_false_and_compare_false_fields_as_with_a_dataclass() -> None:
    @record
    class Login:
        user: str
        password: str | None = dataclasses.field(default=None, repr=False)
        ask: object = dataclasses.field(default=None, repr=False, compare=False)

    @dataclasses.dataclass(frozen=True)
    class LoginTwin:
        user: str
        password: str | None = dataclasses.field(default=None, repr=False)
        ask: object = dataclasses.field(default=None, repr=False, compare=False)

    mine, theirs = Login("root", "s3cret", print), LoginTwin("root", "s3cret", print)
    assert repr(mine) == repr(theirs).replace("LoginTwin", "Login")
    assert repr(mine).endswith("Login(user='root')")
    assert "s3cret" not in repr(mine)
    assert mine == Login("root", "s3cret", None) and hash(mine) == hash(Login("root", "s3cret", None))
    assert mine != Login("root", "other", print)
    assert record_replace(mine, user="admin").ask is print  # every field is copied, compared or not
