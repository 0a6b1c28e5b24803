"""The package's import graph in numbers: modules, layers, edges, imports that run back up, the
biggest module.

    python scripts/import_graph.py [CHECKOUT]       # default: this checkout

A module is a file of ``lambda_hat/`` or one of its sub-folders (a folder counts as one), plus
``benchmarks/`` as one; an edge is one module importing another; a module's layer is one above the
highest module it imports (layer 1 imports none of ours). A pair that imports each other is a
circle, and one of its imports runs back up.
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path


def module_of(root: Path, path: Path) -> str:
    parts = path.relative_to(root).parts
    if parts[0] == "benchmarks":
        return "benchmarks/"
    return parts[1] + "/" if len(parts) > 2 else path.stem


def imported(root: Path, name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "lambda_hat" or len(parts) < 2:
        return None
    return parts[1] + "/" if (root / "lambda_hat" / parts[1]).is_dir() else parts[1]


def graph(root: Path) -> tuple[dict[str, set[str]], dict[str, int]]:
    files = [p for p in [*(root / "lambda_hat").rglob("*.py"), *(root / "benchmarks").glob("*.py")]
             if p != root / "lambda_hat" / "__init__.py"]
    edges: dict[str, set[str]] = {}
    lines: dict[str, int] = {}
    for path in files:
        module, text = module_of(root, path), path.read_text()
        lines[module] = lines.get(module, 0) + len(text.splitlines())
        found = edges.setdefault(module, set())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            found.update(t for t in map(lambda n: imported(root, n), names) if t and t != module)
    return {m: {t for t in targets if t in edges} for m, targets in edges.items()}, lines


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    edges, lines = graph(root)

    @functools.lru_cache(maxsize=None)
    def layer(module: str, path: tuple = ()) -> int:
        if module in path:
            return 0
        return 1 + max((layer(t, (*path, module)) for t in edges[module]), default=0)

    circles = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a] if a in edges[b]})
    total, biggest = sum(lines.values()), max(lines, key=lines.get)
    print(f"modules {len(edges)}, layers {max(map(layer, edges))}, edges {sum(map(len, edges.values()))}, "
          f"circles {circles or 'none'}, biggest {biggest} ({lines[biggest]} of {total} lines, "
          f"{lines[biggest] / total:.0%})")


if __name__ == "__main__":
    main()
