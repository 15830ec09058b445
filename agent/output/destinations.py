"""Where each requested format goes, and writing them all or none.

``--format FMT[=FILE]`` is repeatable. A format without a file goes to ``--output`` when
given (only one may), else into ``--output-dir`` as ``fedharden.EXT``, else to standard
output (only one may). Every file is rendered first, then written to a temporary file
beside its target, and only when all of them are complete are they renamed into place.
"""
from __future__ import annotations

import os
import stat
import tempfile
from typing import Sequence

from agent import UsageError
from agent.contract import Report
from agent.output import FORMATS
from checks.record import record


@record
class Destination:
    """Where one format's output goes."""

    format: str
    path: str | None  # None: standard output


def plan(specs: Sequence[str], output: str | None = None, output_dir: str | None = None) -> list[Destination]:
    """Destinations for ``--format`` values; raises UsageError naming the option at fault."""
    if output and output_dir:
        raise UsageError("--output and --output-dir cannot be combined: give each format its file as FMT=FILE")
    parsed: list[tuple[str, str | None]] = []
    for spec in specs or ("table",):
        name, eq, path = spec.partition("=")
        name = name.strip()
        if name not in FORMATS:
            raise UsageError(f"--format: unknown format {name!r} (choose from {', '.join(sorted(FORMATS))})")
        if eq and not path:
            raise UsageError(f"--format: {spec!r}: missing file name after '='")
        parsed.append((name, path or None))
    bare = [name for name, path in parsed if path is None]
    out: list[Destination] = []
    for name, given in parsed:
        target = given
        if target is None:
            if output:
                if len(bare) > 1:
                    raise UsageError(f"--output: {len(bare)} formats have no file of their own "
                                     f"({', '.join(bare)}); write them as FMT=FILE or use --output-dir")
                target = output
            elif output_dir:
                if bare.count(name) > 1:
                    raise UsageError(f"--format: {name} given twice without a file")
                target = os.path.join(output_dir, f"fedharden.{FORMATS[name].ext}")
            elif len(bare) > 1:
                raise UsageError(f"--format: only one format can go to standard output ({', '.join(bare)} given); "
                                 "write the others as FMT=FILE or use --output-dir")
        out.append(Destination(name, target))
    if output and not bare:
        raise UsageError("--output: every --format already names its file")
    if output_dir and not os.path.isdir(output_dir):
        raise UsageError(f"--output-dir: {output_dir}: not a directory")
    seen: dict[str, str] = {}
    for dest in out:
        if dest.path is None:
            continue
        real = os.path.realpath(dest.path)
        if real in seen:
            raise UsageError(f"--format: {dest.path} is the destination of both {seen[real]} and {dest.format}")
        seen[real] = dest.format
    return out


def render(destinations: Sequence[Destination], report: Report, color: bool,
           baseline: Report | None = None) -> list[tuple[Destination, str]]:
    """Every output rendered in memory; color only for the one that goes to a terminal.

    A format that has nothing to say for this report (a checklist without STIG ids) raises
    UsageError before anything is written."""
    return [(d, FORMATS[d.format](report, color and d.path is None, baseline=baseline)) for d in destinations]


def write_all(files: Sequence[tuple[str, str]]) -> None:
    """Write every (path, text) or none: temporary files first, renamed once all are complete.

    Raises UsageError naming the file that could not be written; nothing was replaced then.
    A path that is a device or a pipe (``-o /dev/null``, ``-o /dev/stdout``) is written in
    place after the others: renaming over it would replace the device with a plain file.
    """
    devices = [(path, text) for path, text in files if _device(path)]
    _write_regular([(path, text) for path, text in files if not _device(path)])
    for path, text in devices:
        try:
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        except OSError as exc:
            raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _device(path: str) -> bool:
    """Whether the path exists and is neither a regular file nor a directory."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _write_regular(files: Sequence[tuple[str, str]]) -> None:
    staged: list[tuple[str, str]] = []
    try:
        for path, text in files:
            directory = os.path.dirname(os.path.abspath(path))
            try:
                fd, tmp = tempfile.mkstemp(prefix=".fedharden-", dir=directory)
            except OSError as exc:
                raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
            staged.append((tmp, path))
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                    fh.write(text)
            except OSError as exc:
                raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except UsageError:
        for tmp, _ in staged:
            _unlink(tmp)
        raise
    done: list[str] = []
    for i, (tmp, path) in enumerate(staged):
        try:
            os.replace(tmp, path)
        except OSError as exc:
            for rest, _ in staged[i:]:
                _unlink(rest)
            written = f" (already written: {', '.join(done)})" if done else ""
            raise UsageError(f"{path}: cannot write: {exc.strerror or exc}{written}") from None
        done.append(path)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
