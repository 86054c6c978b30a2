"""The package's layout: every stage imports only the stages before it, in the order pianoroll/__init__.py lists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pianoroll

PACKAGE = Path(pianoroll.__file__).parent
STAGE_LINE = re.compile(r"^    (\w+)\s{2,}\S", re.MULTILINE)  # "    name      what it does" in the docstring


def stages() -> list[str]:
    """The library modules in pipeline order, as the package docstring lists them."""
    return STAGE_LINE.findall(pianoroll.__doc__)


def imported_modules(path: Path) -> set[str]:
    """The pianoroll modules a file imports, at the top or inside functions (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "pianoroll":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[1] for alias in node.names
                         if alias.name.startswith("pianoroll."))
    return found


def test_the_docstring_lists_every_library_module_once():
    listed = stages()
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__", "__main__", "cli"}
    assert len(listed) == len(set(listed)) and set(listed) == modules


def test_every_stage_imports_only_the_stages_before_it():
    order = {name: index for index, name in enumerate(stages())}
    later = {}
    for name, index in order.items():
        wrong = sorted(other for other in imported_modules(PACKAGE / f"{name}.py")
                       if other in order and order[other] >= index and other != name)
        if wrong:
            later[name] = wrong
    assert not later, f"stages importing themselves or later stages: {later}"
