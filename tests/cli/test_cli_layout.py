"""The CLI's shape: one module per noun, the same commands in the same order, short command bodies."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

import qdcat.cli
from qdcat.cli import app

NOT_NOUNS = {"_app", "output", "__main__"}
MAX_COMMAND_LINES = 80

# `qdcat --help` before the CLI became a package: commands first, then the sub-apps.
TOP_LEVEL = [
    "init",
    "demo",
    "version",
    "gc",
    "fsck",
    "backup",
    "restore",
    "edit",
    "history",
    "serve",
    "ingest",
    "simulate",
    "export",
    "analyze",
    "worker",
    "stats",
    "correlate",
    "compare",
    "blinking",
    "db",
    "sample",
    "specimen",
    "dot",
    "curate",
    "setup",
    "measurement",
    "trash",
    "params",
    "jobs",
    "results",
    "query",
    "plot",
]


def _apps(root: typer.Typer) -> list[typer.Typer]:
    subs = [g.typer_instance for g in root.registered_groups if g.typer_instance is not None]
    return [root, *(a for s in subs for a in _apps(s))]


def _command_modules() -> dict[str, set[str]]:
    """Module name → names of the commands whose functions it defines."""
    found: dict[str, set[str]] = {}
    for a in _apps(app):
        for c in a.registered_commands:
            assert c.callback is not None
            found.setdefault(c.callback.__module__, set()).add(c.name or c.callback.__name__)
    return found


def test_every_noun_module_defines_commands_and_only_they_do() -> None:
    nouns = {
        f"qdcat.cli.{m.name}" for m in pkgutil.iter_modules(qdcat.cli.__path__) if m.name not in NOT_NOUNS
    }
    for name in nouns:
        importlib.import_module(name)
    found = _command_modules()
    assert {m for m in nouns if not found.get(m)} == set()
    assert set(found) <= nouns, "commands defined outside the noun modules"


def test_help_lists_the_same_commands_in_the_same_order() -> None:
    res = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    panel = res.output.split("Commands")[1]
    assert re.findall(r"^│ ([a-z]\S*)", panel, flags=re.MULTILINE) == TOP_LEVEL


def test_no_command_body_is_longer_than_a_screen() -> None:
    too_long = []
    for path in sorted(Path(qdcat.cli.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            is_command = any(
                isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
                for d in node.decorator_list
            )
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if is_command and lines > MAX_COMMAND_LINES:
                too_long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert too_long == []
