"""The data files directives read, parsed and checked one way for every reader: the scan
(agent.facts.lifecycle), a publication (directives.tufrepo) and a host installing a signed
update (agent.directive_updates)."""
from __future__ import annotations

from typing import Any, Callable

from directives.errors import DirectiveError
from directives.yamldoc import YamlDoc

END_OF_SUPPORT = "end_of_support.yaml"
ROW_KEYS = ("id", "version", "name", "end_of_support")


def parse_end_of_support(text: str, name: str) -> dict[str, Any]:
    """An end-of-support table: ``source`` and ``releases`` (each with id, version, name,
    end_of_support); raises DirectiveError naming the line of each problem."""
    doc = YamlDoc(text, name)
    doc.raise_problems()  # a duplicate key is refused, not a silent overwrite
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get("source"), str) \
            or not isinstance(doc.data.get("releases"), list):
        raise DirectiveError([f"{name}:1: $: an end-of-support table holds source: and releases: [...]"])
    for i, row in enumerate(doc.data["releases"]):
        if not isinstance(row, dict) or not all(k in row for k in ROW_KEYS):
            doc.problem(("releases", i), f"a release row needs {', '.join(ROW_KEYS)}")
    doc.raise_problems()
    return doc.data


# Data file name -> its parser; a data file of another name is carried as it is.
PARSERS: dict[str, Callable[[str, str], dict[str, Any]]] = {END_OF_SUPPORT: parse_end_of_support}


def check(name: str, text: str, where: str) -> None:
    """Raise DirectiveError when ``text``, the data file ``name``, does not parse."""
    parser = PARSERS.get(name)
    if parser is not None:
        parser(text, where)
