"""The docs a newcomer reads first stay true: the module map matches the package, links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _modules() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "qdcat").rglob("*.py")}


def test_the_module_map_lists_every_module_and_only_those() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(qdcat/[^`]+\.py)` \|", text, flags=re.MULTILINE))
    assert listed, "docs/architecture.md has a module map table"
    assert sorted(_modules() - listed) == [], "modules missing from the map in docs/architecture.md"
    assert sorted(listed - _modules()) == [], "docs/architecture.md maps modules that do not exist"


@pytest.mark.parametrize("page", ["README.md", *sorted(p.name for p in DOCS.glob("*.md"))])
def test_relative_links_point_at_files_that_exist(page: str) -> None:
    path = ROOT / page if page == "README.md" else DOCS / page
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        assert (path.parent / target).exists(), f"{page} links to {target}, which does not exist"


def test_the_readme_is_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150
