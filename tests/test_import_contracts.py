"""The layers' import rules (README, "Architecture"), checked on every import statement.

Why an AST walk and not a linter plugin: the rules are few, the walk sees imports inside functions
too (the CLI and the app import heavy modules lazily), and a failure names the file and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("rag", "cli", "ingest", "finetune", "eval", "app", "bench")
# Heavy engines the core must not pull in: the app imports rag.core while a page draws.
HEAVY = ("torch", "transformers", "sentence_transformers", "qdrant_client", "qdrant_edge", "peft")


@dataclass(frozen=True)
class Contract:
    """Modules under ``source`` never import a module under any of ``forbidden``."""

    source: str
    forbidden: tuple[str, ...]


CONTRACTS = (
    Contract("rag", ("cli", "ingest", "finetune", "eval", "app", "bench")),
    Contract("rag.core", ("rag.models", "rag.store", "rag.retrieval", "rag.generation", "rag.engagement")),
    Contract("rag.core", ("rag.pipelines", "rag.serve", *HEAVY)),
    Contract("ingest", ("cli", "finetune", "eval", "app", "bench")),
    Contract("eval", ("cli", "finetune", "app", "bench")),
    Contract("finetune", ("cli", "app", "bench")),
    Contract("app", ("cli", "finetune", "eval", "bench")),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute module a file imports, with its line; ``from a import b`` also yields ``a.b``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def project_files() -> list[Path]:
    return sorted(p for package in PROJECT for p in (ROOT / package).rglob("*.py"))


def violations(contract: Contract) -> list[str]:
    found = []
    for path in project_files():
        if not within(module_name(path), contract.source):
            continue
        for line, target in imports(path):
            if any(within(target, forbidden) for forbidden in contract.forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return sorted(set(found))


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: f"{c.source}-not-{'|'.join(c.forbidden)}")
def test_layer_contract(contract: Contract) -> None:
    assert violations(contract) == []


def test_nothing_imports_the_command_line_or_the_benchmarks() -> None:
    """The CLI and the benchmarks sit on top: only they themselves import their own modules."""
    found = []
    for path in project_files():
        own = module_name(path).split(".")[0]
        for line, target in imports(path):
            top = target.split(".")[0]
            if top in ("cli", "bench") and top != own:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert found == []


def test_the_contracts_catch_a_forbidden_import(tmp_path: Path) -> None:
    """The walk sees an import inside a function, as the lazily importing CLI writes them."""
    source = tmp_path / "lazy.py"
    source.write_text("def f():\n    from finetune.classifier import training\n", encoding="utf-8")
    assert (2, "finetune.classifier.training") in imports(source)
    assert any(within(m, "finetune") for _, m in imports(source))
