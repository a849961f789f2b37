"""Imports go one way: envs <- algos <- experiments; analysis stands alone; no CLI is a library.

Every ``import`` of the four packages is read from the source (also imports inside
functions, which is how a cycle is usually dodged), so a back edge fails here with the file
and line that adds it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("envs", "algos", "experiments", "analysis")
# What each package may import from the four (itself always).
ALLOWED = {
    "envs": {"envs"},
    "algos": {"envs", "algos"},
    "experiments": {"envs", "algos", "experiments", "analysis"},
    "analysis": {"analysis"},
}
LIBRARIES = ("experiments.core", "experiments.bench")  # the rest of experiments/ are CLIs


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every absolute import in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_cli(module: str) -> bool:
    parts = module.split(".")
    return (
        parts[0] == "experiments"
        and len(parts) == 2
        and not module.startswith(LIBRARIES)
        and (ROOT / "experiments" / f"{parts[1]}.py").exists()
    )


def back_edges(root: Path = ROOT) -> list[str]:
    bad = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            here = module_name(path, root)
            for line, target in imports(path):
                top = target.split(".")[0]
                where = f"{path.relative_to(root)}:{line}"
                if top in PACKAGES and top not in ALLOWED[package]:
                    bad.append(f"{where}: {package} imports {target}")
                if is_cli(target) and target != here:
                    bad.append(f"{where}: imports the command-line module {target}")
    return bad


def test_imports_point_down_only():
    assert back_edges() == []


def test_the_walk_sees_back_edges(tmp_path):
    """The check itself can fail: planted imports (one hidden in a function) are reported."""
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "planted.py").write_text(
        "def f():\n    from experiments.core import build\n"
    )
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "planted.py").write_text("import experiments.run\n")
    found = back_edges(tmp_path)
    assert any(e.startswith("envs/planted.py:2: envs imports experiments") for e in found)
    assert any(
        "analysis/planted.py:1: imports the command-line module experiments.run" in e for e in found
    )
