"""One feed store shared by an inventory's hosts parses each feed file once, and again when the
manifest names another digest (a `feeds update` between scans), verifying it as before."""
from __future__ import annotations

import dataclasses

import pytest

from agent.feeds.store import FeedError, FeedStore


def test_a_feed_is_parsed_once_per_digest() -> None:
    store = FeedStore(None)
    kev = store.feeds()["kev"]
    first = store.read(kev)
    assert store.read(kev) is first and first["catalogVersion"]
    updated = dataclasses.replace(kev, sha256="0" * 64)  # the manifest now names another file content
    with pytest.raises(FeedError, match="corrupt: its sha256 does not match"):
        store.read(updated)  # read and verified again, not served from what was parsed
    assert store.read(kev) is first  # a file that failed its check replaces nothing
