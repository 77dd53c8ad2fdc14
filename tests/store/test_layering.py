"""slaprobe/store has no import cycles (issue #14): one module's change must not break another's import."""

from __future__ import annotations

import ast
from pathlib import Path

import slaprobe.store

STORE = Path(slaprobe.store.__file__).parent
PACKAGE = "slaprobe.store"


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """module -> the modules of the same package it imports (anywhere in the file, lazy ones too)."""
    modules = {p.stem for p in package_dir.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name in modules:
        tree = ast.parse((package_dir / f"{name}.py").read_text("utf-8"))
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == package:  # from slaprobe.store import journal
                    found |= {a.name for a in node.names if a.name in modules}
                elif node.module.startswith(package + "."):
                    found.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[2] for a in node.names if a.name.startswith(package + ".")}
        graph[name] = found & modules - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (first = last), or None (depth-first search, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_in_store() -> None:
    graph = import_graph(STORE, PACKAGE)
    assert {"journal", "sla_journal", "rollup_tables", "columnar"} <= set(graph)
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_the_sample_writer_knows_nothing_of_the_sla_readers() -> None:
    graph = import_graph(STORE, PACKAGE)
    assert "sla_journal" not in graph["journal"]
    assert "influx_read" not in graph["journal"]


def test_the_cycle_finder_finds_the_old_cycle(tmp_path: Path) -> None:
    """The check can fail: the journal <-> sla_journal cycle this issue removed is reported."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "journal.py").write_text("from slaprobe.store.sla_journal import update_rollups\n")
    (pkg / "sla_journal.py").write_text("def f():\n    from slaprobe.store.journal import _SAMPLE_SELECT\n")
    (pkg / "other.py").write_text("import slaprobe.store.journal\n")
    graph = import_graph(pkg, PACKAGE)
    assert find_cycle(graph) == ["journal", "sla_journal", "journal"]
