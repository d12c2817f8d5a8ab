"""The layers of docs/architecture.md, checked on the source: who may import what, and no import circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "signaling", "vision", "procedures")
WEB_LAYER = ("server.web", "server.app")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            found[module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import; ``TYPE_CHECKING`` blocks skipped."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}

    def walk(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                continue
            yield node
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from walk([child])

    for node in walk(tree.body):
        level = id(node) in top_level
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, level
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                yield (candidate if candidate in known else source), node.lineno, level


def test_only_the_web_layer_and_the_app_factory_import_starlette() -> None:
    known = modules()
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for name, path in known.items()
        for imported, line, _ in imports_of(name, path, known)
        if imported.split(".")[0] == "starlette" and not name.startswith(WEB_LAYER)
    ]
    assert offenders == []


def test_the_pure_cores_import_no_shell() -> None:
    known = modules()
    rules = {
        "signaling": ("server", "vision", "procedures", "aiortc", "starlette", "av", "cv2"),
        "vision": ("server", "signaling", "procedures", "aiortc", "starlette"),
        "procedures": ("server", "signaling", "aiortc", "starlette"),
    }
    offenders = [
        f"{path.relative_to(REPO)}:{line} imports {imported}"
        for name, path in known.items()
        for imported, line, _ in imports_of(name, path, known)
        if name.split(".")[0] in rules and imported.split(".")[0] in rules[name.split(".")[0]]
    ]
    assert offenders == []


def test_domain_code_outside_the_web_layer_does_not_reach_into_it() -> None:
    known = modules()
    offenders = [
        f"{path.relative_to(REPO)}:{line} imports {imported}"
        for name, path in known.items()
        if name.startswith("server.") and not name.startswith(WEB_LAYER)
        for imported, line, _ in imports_of(name, path, known)
        if imported.startswith("server.web")
    ]
    assert offenders == []


def test_there_is_no_import_circle() -> None:
    known = modules()
    graph = {
        name: {
            imported
            for imported, _, _ in imports_of(name, path, known)
            if imported in known and imported != name
        }
        for name, path in known.items()
    }
    # A package's __init__ that re-exports its own modules is not a circle with them.
    for name in graph:
        graph[name] = (
            {m for m in graph[name] if not (name and m.startswith(name + "."))}
            if name in known
            else graph[name]
        )
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
