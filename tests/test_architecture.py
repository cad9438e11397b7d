"""The package's architecture, checked from its source with `ast` (not by hand).

Layers, left to right; a module may import only from its own layer or from layers to its left:

    _misc -> _data -> _model -> _solver -> _observables -> _baselines -> _apps -> _io -> _cli

The numerical core (everything up to `_baselines`) never imports `_io`, `_cli`, `_apps` or
matplotlib, and nothing inside the package imports the package root. Lazy imports inside
functions count: the checker walks the whole syntax tree.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "meanfield"
LAYERS = ("_misc", "_data", "_model", "_solver", "_observables", "_baselines", "_apps", "_io",
          "_cli")
CORE = LAYERS[: LAYERS.index("_baselines") + 1]


def _imports(path: Path, root: Path):
    """Yield (kind, target, line): kind 'internal' with the target's parts below the package,
    'root' for an import of the package itself, 'external' with the module name."""
    rel = path.relative_to(root).with_suffix("")
    package = rel.parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            up = node.level - 1
            if up > len(package):
                yield "root", (), node.lineno
                continue
            base = package[: len(package) - up]
            target = base + (tuple(node.module.split(".")) if node.module else ())
            if not target:  # `from . import x` in the root package
                for a in node.names:
                    yield ("internal", (a.name,), node.lineno)
            else:
                yield "internal", target, node.lineno
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for name in names:
                parts = tuple(name.split("."))
                if parts[0] == root.name:
                    yield "root", parts[1:], node.lineno
                else:
                    yield "external", parts, node.lineno


def violations(root: Path) -> dict[str, list[str]]:
    """Every import in the package at `root` that breaks the layer rule, by module."""
    out: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts in (("__init__.py",), ("__main__.py",)):
            continue  # the public namespace re-exports from every layer; `python -m` entry
        own = rel.parts[0].removesuffix(".py")
        bad = []
        if own not in LAYERS:
            bad.append(f"{own} is not one of the layers {LAYERS}")
        else:
            rank = LAYERS.index(own)
            for kind, target, line in _imports(path, root):
                if kind == "root":
                    bad.append(f"line {line}: imports the package root ({'.'.join(target)})")
                elif kind == "internal":
                    layer = target[0]
                    if layer not in LAYERS:
                        bad.append(f"line {line}: imports {'.'.join(target)}, outside the layers")
                    elif LAYERS.index(layer) > rank:
                        bad.append(f"line {line}: {own} imports {'.'.join(target)}, a layer to its "
                                   "right")
                elif own in CORE and target[0] == "matplotlib":
                    bad.append(f"line {line}: the numerical core imports matplotlib")
        if bad:
            out[str(rel)] = bad
    return out


def test_imports_run_one_way():
    found = violations(PACKAGE)
    assert not found, "\n".join(f"{m}: {b}" for m, v in found.items() for b in v)


def test_every_layer_exists():
    for layer in LAYERS:
        assert (PACKAGE / layer).is_dir() or (PACKAGE / f"{layer}.py").is_file(), layer


def test_the_checker_catches_each_kind_of_violation(tmp_path):
    root = tmp_path / "meanfield"
    (root / "_solver").mkdir(parents=True)
    (root / "_io").mkdir()
    (root / "__init__.py").write_text("from ._solver.ok import x\n")
    (root / "_misc.py").write_text("import numpy\n")
    (root / "_solver" / "ok.py").write_text("from .._misc import a\nfrom .other import b\n")
    (root / "_solver" / "bad.py").write_text(
        "def f():\n    from .._io.results import w\n    import matplotlib.pyplot\n"
        "import meanfield\nfrom .. import _io\n")
    (root / "_io" / "fine.py").write_text("import matplotlib\nfrom .._solver.ok import x\n")
    (root / "_extra.py").write_text("")
    found = violations(root)
    assert set(found) == {"_solver/bad.py", "_extra.py"}, found
    text = "\n".join(found["_solver/bad.py"])
    assert "_io.results" in text and "matplotlib" in text and "package root" in text
    assert "_io, a layer" in text  # `from .. import _io`


CONCRETE = {"Grid", "Langevin", "Tempering", "GradientDescent", "Damped", "Anderson",
            "BayesianProblem", "TrainingProblem"}


def test_the_driver_does_not_dispatch_on_concrete_classes():
    """`solve` talks to problems, foregrounds and mixings through their abstract bases only."""
    path = PACKAGE / "_solver" / "solve.py"
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "hasattr":
                bad.append(f"line {node.lineno}: hasattr")
            if node.func.id == "isinstance" and len(node.args) == 2:
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if names & CONCRETE:
                    bad.append(f"line {node.lineno}: isinstance against {sorted(names & CONCRETE)}")
    assert not bad, bad


def test_every_command_module_is_registered():
    """One module per command in `_cli`, each with `add_parser(sub)` and `run(args)`, listed
    explicitly in `main.COMMANDS` (no registration by module-name strings)."""
    import importlib

    main = importlib.import_module("meanfield._cli.main")
    helpers = {"__init__", "main", "common"}
    modules = {p.stem for p in (PACKAGE / "_cli").glob("*.py")} - helpers
    assert {m.__name__.rsplit(".", 1)[1] for m in main.COMMANDS} == modules
    for m in main.COMMANDS:
        assert callable(m.add_parser) and callable(m.run), m.__name__
    assert "importlib" not in (PACKAGE / "_cli" / "main.py").read_text()


def test_the_free_energy_estimators_are_public():
    """The ladder's settings, its result and its entry point are re-exported next to
    `free_energy`, as the very objects of `_solver.free_energy`."""
    import meanfield
    from meanfield._solver import free_energy as module

    for name in ("FreeEnergy", "free_energy", "Ladder", "LogPartition", "log_partition_ladder"):
        assert getattr(meanfield, name) is getattr(module, name), name
