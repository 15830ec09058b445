"""The files a user names on the command line, read and checked: directive files and
directories, waivers, a tailoring, a baseline report. Problems raise DirectiveError (one
``file:line: $.path: message`` per problem) or UsageError, both exit 2 (agent.cli)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence, cast

from agent import UsageError

if TYPE_CHECKING:
    from agent.contract import Report


def load_directives(extra: Sequence[str], state_dir: str | None = None) -> list[Any]:
    """The shipped library, the signed directives installed in ``state_dir`` merged in
    (agent.directive_store), plus the directive files and directories named by ``--directives``."""
    from directives import DirectiveError, load_library, load_paths
    from directives.loader import directory_files

    paths: list[str] = []
    for item in extra:
        paths.extend(directory_files(item) if os.path.isdir(item) else [item])
    if state_dir is None:
        return load_library(paths)
    from agent.directive_store import with_verified

    loaded, warning = with_verified(load_library(), state_dir)
    if warning:
        import click

        from agent.output.common import safe

        click.echo(f"fedharden: warning: {safe(warning)}", err=True)
    added = load_paths(paths)
    owners = {rid: d.source for d in loaded for rid in [d.id, *(r.id for r in d.requirements)]}
    clashes = [f"{d.source}:1: $.id: id {rid} is already used by {owners[rid]}"
               for d in added for rid in [d.id, *(r.id for r in d.requirements)] if rid in owners]
    if clashes:
        raise DirectiveError(clashes)
    return [*loaded, *added]


def load_waivers(path: str, loaded: Sequence[Any]) -> Any:
    """A waivers file, each waiver's requirement checked against the loaded directives."""
    from directives.waivers import load_waivers as load

    return load(path, {r.id for d in loaded for r in d.requirements})


def load_tailoring(path: str, loaded: Sequence[Any]) -> Any:
    from directives.tailoring import load_tailoring as load

    return load(path, loaded)


def load_baseline(path: str) -> Report:
    """An earlier full report, validated against the report schema."""
    import json

    from agent.contract import validation_errors

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise UsageError(f"--baseline: {path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"--baseline: {path}: not JSON: {exc}") from None
    problems = validation_errors(data)
    if problems:
        raise UsageError(f"--baseline: {path}: not a fedharden report: {problems[0]}")
    if data["kind"] != "full":
        raise UsageError(f"--baseline: {path}: a {data['kind']} report; a full report is needed")
    return cast("Report", data)  # valid against the schema, so of its shape


def profile_path(value: str, state_dir: str | None = None) -> str:
    """A profile's file by name (the signed set's in ``state_dir`` first, then the shipped one),
    or the file a path names; an unknown name is a usage error."""
    from agent.directive_store import profile_file
    from directives.cis_profiles import PROFILES, path_of

    signed = profile_file(state_dir, value) if os.sep not in value else None
    if signed is not None:
        return signed
    if value in PROFILES:
        return path_of(value)
    if os.sep in value or value.endswith((".yaml", ".yml")) or os.path.exists(value):
        if not os.path.isfile(value):
            raise UsageError(f"--profile: {value}: no such file")
        return value
    raise UsageError(f"--profile: unknown profile {value!r} (shipped: {', '.join(PROFILES)}; or the path of a copied profile)")
