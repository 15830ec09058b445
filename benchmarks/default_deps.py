"""What paramiko and requests as default dependencies cost a plain scan: the same scan of this
host, alternated between this environment and one built beside it (benchmarks/.cache/light)
with everything but paramiko and requests. Both are imported lazily, so the figures should
agree within noise. Usage: .venv/bin/python benchmarks/default_deps.py [--runs N]
->  benchmarks/results/default_deps.json"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from scan import measure, precompile

HERE = Path(__file__).resolve().parent
LIGHT = HERE / ".cache" / "light"
LEFT_OUT = {"paramiko", "requests"}


def light_environment() -> Path:
    """A virtual environment holding the project and its default dependencies except
    paramiko and requests (built once, reused)."""
    python = LIGHT / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LIGHT)], check=True)
        requires = [r.strip() for r in _install_requires() if r.split(">")[0].split("=")[0].strip() not in LEFT_OUT]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requires], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(HERE.parent)], check=True)
    for name in LEFT_OUT:
        found = subprocess.run([str(python), "-c", f"import {name}"], capture_output=True).returncode == 0
        if found:
            raise SystemExit(f"{LIGHT}: {name} is installed; remove the folder to rebuild it")
    return LIGHT / "bin" / "fedharden"


def _install_requires() -> list[str]:
    import configparser

    config = configparser.ConfigParser()
    config.read(HERE.parent / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    return [line for line in lines if line.strip() and not line.strip().startswith("#")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    precompile()
    full = str(Path(sys.executable).with_name("fedharden"))
    light = str(light_environment())
    argv = ["scan", "--format", "json", "--output", os.devnull]
    samples: dict[str, list[tuple[float, float]]] = {"default": [], "without": []}
    measure([full, *argv])
    measure([light, *argv])  # warm the page cache for both
    for _ in range(args.runs):  # alternated, so a busy moment weighs on both alike
        samples["default"].append(measure([full, *argv]))
        samples["without"].append(measure([light, *argv]))

    def summary(series: list[tuple[float, float]]) -> dict[str, float]:
        walls = [w for w, _ in series]
        return {"median_s": round(statistics.median(walls), 4), "min_s": round(min(walls), 4),
                "peak_rss_mb": round(max(r for _, r in series), 1)}

    default, without = summary(samples["default"]), summary(samples["without"])
    result = {
        "what": "fedharden scan of this host, all shipped directives, process start included; "
                "default install against one without paramiko and requests, runs alternated",
        "runs": args.runs,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "default_install": default,
        "without_paramiko_requests": without,
        "ratio_wall": round(default["median_s"] / without["median_s"], 3),
        "ratio_min_wall": round(default["min_s"] / without["min_s"], 3),
        "ratio_rss": round(default["peak_rss_mb"] / without["peak_rss_mb"], 3),
    }
    out = HERE / "results" / "default_deps.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
