"""The layering rule of ``docs/architecture.md``: a tenken module imports only its own package and lower ones.

Order, lowest first: core < configs < viz < align < changedet < vlm < tasks < inspect < eval < data < train < serve
< cli; ``tenken/__init__.py`` (its lazy map) and ``tenken/__main__.py`` are the top. Every ``import`` in a module
counts, at module level or inside a function (a lazy import still makes the lower layer depend on the higher one);
only imports under ``if TYPE_CHECKING:`` are exempt (annotations, never run). Modules named by string for a later
import count too: ``importlib.import_module("tenken.x")`` and a registry's ``modules=("tenken.x", ...)``. A
failure prints each violation as ``module -> imported module``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "tenken"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("configs",),
    ("viz",),
    ("align",),
    ("changedet",),
    ("vlm",),
    ("tasks",),
    ("inspect",),
    ("eval",),
    ("data", "synth"),  # synth makes synthetic inspection pairs from photos: a data source beside the recipes
    ("train",),
    ("serve",),
    ("cli",),
)
"""Packages of ``tenken`` from the bottom up; packages on one level may import each other."""

RANK: dict[str, int] = {pkg: i for i, level in enumerate(LAYERS) for pkg in level}
TOP = len(LAYERS)  # tenken/__init__.py and tenken/__main__.py

PENDING: frozenset[tuple[str, str]] = frozenset(
    {
        # Being fixed by the eval/inspect half of issue 9 (house9a); the lead removes these after merging it.
        ("tenken.eval.runners", "tenken.cli.output"),  # scores.json and progress through the CLI's helpers
    }
)
"""Known violations in code another change is moving right now: ``(module, imported module)``."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Every module name ``tree`` imports (absolute), skipping the bodies of ``if TYPE_CHECKING:``."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # `from tenken.x import y` may import the submodule tenken.x.y: count it as that when it is one
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append(sub if _exists(sub) else target)
        elif isinstance(node, ast.Call):
            found.extend(_named_modules(node))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _named_modules(call: ast.Call) -> list[str]:
    """Modules a call names for import: ``import_module("tenken...")``'s first argument, ``modules=(...)``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    nodes: list[ast.expr] = list(call.args[:1]) if name == "import_module" else []
    for kw in call.keywords:
        if kw.arg == "modules" and isinstance(kw.value, (ast.Tuple, ast.List)):
            nodes.extend(kw.value.elts)
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _exists(module: str) -> bool:
    path = ROOT.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _rank(module: str) -> int | None:
    """The layer of a tenken module; ``None`` for the bare ``tenken`` package (its eager part is core and
    configs, and every ``tenken.*`` import runs it anyway) and for modules outside tenken."""
    parts = module.split(".")
    if parts[0] != "tenken" or len(parts) == 1:
        return None
    if parts[1] in ("__init__", "__main__"):
        return TOP
    if parts[1] not in RANK:
        raise AssertionError(f"{module}: package tenken.{parts[1]} is not in LAYERS; give it a place in the order")
    return RANK[parts[1]]


def violations() -> list[tuple[str, str]]:
    """``(module, imported module)`` for every import of a higher layer, in file order."""
    bad: list[tuple[str, str]] = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        own = TOP if path.parent == ROOT else _rank(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for imported in _imports(tree, module, path.name == "__init__.py"):
            rank = _rank(imported)
            if rank is not None and own is not None and rank > own:
                bad.append((module, imported))
    return bad


def test_no_module_imports_a_layer_above_it():
    found = [v for v in violations() if v not in PENDING]
    assert not found, "imports of a higher layer:\n" + "\n".join(f"  {m} -> {i}" for m, i in found)


def test_pending_allowlist_holds_only_live_violations():
    stale = PENDING - set(violations())
    assert not stale, "fixed: remove from PENDING:\n" + "\n".join(f"  {m} -> {i}" for m, i in sorted(stale))


def test_the_check_sees_lazy_imports_and_skips_type_checking():
    src = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from tenken.cli.output import console\n"
        "def f():\n    import tenken.serve\n    from . import draw\n"
        "REG = Registry('x', modules=('tenken.eval.tasks',))\nimportlib.import_module('tenken.cli')\n"
    )
    found = _imports(ast.parse(src), "tenken.viz.fonts", is_package=False)
    assert found == ["typing", "tenken.serve", "tenken.viz.draw", "tenken.eval.tasks", "tenken.cli"]
