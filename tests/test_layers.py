"""The core's layers import only downward (function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import diffblocks

PACKAGE = Path(diffblocks.__file__).parent

#: Bottom to top. Everything else (the package's __init__, _services, _front, cli, testing, batch,
#: serve) is the top layer, the front ends, which may import one another and every layer below.
LAYERS = ["_model", "_blocks", "_analysis", "_runtime", "_plugins", "_compose"]

#: The one upward import the seed's API demands: blocks expose init_pipeline/doc/repr/validate,
#: which live in the layers above; they reach them through diffblocks._services only.
ALLOWED_UPWARD = {("_blocks._base", "_services")}


def layer_of(module: str) -> int:
    """Layer index of a module path relative to the package ('_model._params', 'cli', '')."""
    head = module.split(".", 1)[0]
    if head in LAYERS:
        return LAYERS.index(head)
    return len(LAYERS)  # __init__, front ends and the services gateway sit on top


def imports_of(path: Path) -> list[tuple[str, int]]:
    """Package-relative modules imported by ``path`` (every import statement, any depth)."""
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    package = parts if path.name == "__init__.py" else parts[:-1]
    found = []
    tree = ast.parse(path.read_text(), str(path))
    # imports under `if TYPE_CHECKING:` never run; annotations may name any layer
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else list(package)
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.split(".")[0] == "diffblocks":
                target = node.module.partition(".")[2]
            else:
                continue
            names = [a.name for a in node.names]
            if not node.module or (node.level and node.module is None):
                found += [(f"{target}.{n}".strip("."), node.lineno) for n in names]
            else:
                found.append((target, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("diffblocks."):
                    found.append((alias.name.partition(".")[2], node.lineno))
    return found


def violations() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = ".".join(p for p in path.relative_to(PACKAGE).with_suffix("").parts if p != "__init__")
        mine = layer_of(rel)
        for target, line in imports_of(path):
            if layer_of(target) > mine and (rel, target.split(".")[0]) not in ALLOWED_UPWARD:
                bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {target} (a higher layer)")
    return bad


def test_layers_import_only_downward() -> None:
    assert violations() == []


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from .._runtime._pipeline import ModularPipeline\n")
    # parse as if it were _model/x.py
    tree_targets = [t for t, _ in imports_of_text(source.read_text(), ["_model"])]
    assert tree_targets == ["_runtime._pipeline"]
    assert layer_of("_runtime._pipeline") > layer_of("_model.x")


def imports_of_text(text: str, package: list[str]) -> list[tuple[str, int]]:
    fake = PACKAGE.joinpath(*package, "__probe__.py")
    try:
        fake.write_text(text)
        return imports_of(fake)
    finally:
        fake.unlink()


def test_no_generated_code_in_core() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"exec", "eval", "compile"}
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} calls {node.func.id}()")
    assert offenders == []


def test_one_did_you_mean_formatter() -> None:
    # suggestions are found and worded in _model/_errors.py only (did_you_mean / suggest /
    # phrase_close), so every error offers them the same way
    allowed = {"_model/_errors.py", "_blocks/_checks.py"}  # _checks: one fixed near-miss, not a search
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in allowed:
            continue
        text = path.read_text().lower()
        for word in ("did you mean", "get_close_matches", "import difflib"):
            if word in text:
                offenders.append(f"{rel}: {word!r}")
    assert offenders == []
