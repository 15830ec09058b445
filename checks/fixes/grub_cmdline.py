"""grub_cmdline: kernel command-line arguments added through a /etc/default/grub.d drop-in."""
from __future__ import annotations

import re
from typing import Any, Mapping

from checks.fixes import text
from checks.fixes.model import Action, Command, Files, WriteFile, schema

DROPIN = "/etc/default/grub.d/60-fedharden.cfg"
_LINE = re.compile(r'^GRUB_CMDLINE_LINUX="\$GRUB_CMDLINE_LINUX ?(.*)"$', re.MULTILINE)


class GrubCmdline:
    name = "grub_cmdline"
    schema: Mapping[str, Any] = schema("grub_cmdline", {"add": {"type": "array", "minItems": 1,
                                             "items": {"type": "string", "pattern": "^[A-Za-z0-9_.,=:/-]+$"}}},
                    ("add",))
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return (DROPIN,)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        old = files.text(DROPIN)
        match = _LINE.search(old or "")
        args = match.group(1).split() if match else []
        names = {a.split("=", 1)[0] for a in params["add"]}
        args = [a for a in args if a.split("=", 1)[0] not in names] + list(params["add"])
        new = f'{text.HEADER}GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX {" ".join(args)}"\n'
        if new == old:
            return ()
        return (WriteFile(DROPIN, new), Command(("update-grub",), "the boot loader's configuration",
                                                       best_effort=True))

    def describe(self, params: Mapping[str, Any]) -> str:
        return (f"Add {' '.join(params['add'])} to the kernel command line in {DROPIN} "
                f"(GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX ...\"), then run `update-grub`.")


FIX = GrubCmdline()
