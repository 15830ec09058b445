"""Where the files shipped inside the ``agent`` package are (schemas, the feed snapshot, the
directive repository's root of trust).

The package is installed as plain files, so a path beside this module is the file itself;
``importlib.resources`` would say the same, after importing zipfile and tempfile on every scan.
"""
from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def packaged(relative: str) -> str:
    """The path of ``relative`` (``schemas/report.schema.json``, ``feeds/data``) in the package."""
    return os.path.join(HERE, relative)
