"""The ``fedharden`` console script (setup.cfg): agent.cli's ``main`` as a process of its own.

Two things only a process that ends with its command may do, each measured on a root scan
(benchmarks/scan.py):

- the cycle collector is off while the command line's modules load: importing builds many
  objects and no garbage, and the collector's passes over them took about 3 ms;
- what the command built is frozen before the interpreter exits, so its last collection does
  not walk the directive library and the report (about 10 ms).
"""
from __future__ import annotations

import gc


def entry() -> None:
    gc.disable()
    try:
        from agent.cli import main
    finally:
        gc.enable()
    try:
        main()
    finally:
        gc.freeze()
