"""One YAML loader: every YAML file the product reads (directives, sections, tailoring, waivers,
inventories, the end-of-support table, control mappings) goes through directives/yamldoc.py, so
each is parsed the same way (safe, no duplicate or merge keys) and every problem names its file
and line. Tests may read YAML as they like where they are not the product."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agent", "checks", "directives", "collectors")
LOADER = ROOT / "directives" / "yamldoc.py"


def yaml_uses(path: Path, root: Path = ROOT) -> list[str]:
    """Each import of a YAML library in a module, and each call spelled like a YAML load."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("load", "safe_load", "load_all", "safe_load_all", "compose", "full_load", "unsafe_load") \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in ("yaml", "ruamel"):
            names = [f"yaml.{node.func.attr}()"]
        for name in names:
            if name.split(".")[0] in ("yaml", "ruamel", "strictyaml", "oyaml") or name.startswith("yaml."):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
    return found


def test_only_yamldoc_parses_yaml() -> None:
    modules = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    assert len(modules) > 50
    assert yaml_uses(LOADER), "the rule looks for the loader's own use of yaml"
    assert [use for p in modules if p != LOADER for use in yaml_uses(p)] == []


def test_the_rule_sees_a_stray_load(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import json\n\ndef f(t):\n    import yaml\n    return yaml.safe_load(t)\n")
    assert yaml_uses(probe, tmp_path) == ["probe.py:4: yaml", "probe.py:5: yaml.safe_load()"]
