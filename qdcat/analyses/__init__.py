"""The analyses qdcat runs, one module each (``qdcat/analyses/<name>.py``, declaring ``ANALYSIS``).

Adding an analysis is adding a module here (and the Alembic revision that
creates its result table): this package finds every module that does not
start with an underscore. See ``docs/analyses.md``.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

from qdcat.analyses._base import (
    Acquisition,
    Analysis,
    Column,
    Companion,
    Computed,
    DrawInput,
    Param,
    Parts,
    PartsView,
    Target,
)
from qdcat.errors import InvalidValueError

if TYPE_CHECKING:
    from sqlalchemy import MetaData

__all__ = [
    "Acquisition",
    "Analysis",
    "Column",
    "Companion",
    "Computed",
    "DrawInput",
    "Param",
    "Parts",
    "PartsView",
    "Target",
    "get",
    "metadata",
    "names",
    "registry",
    "source",
    "sources",
]


@functools.cache
def registry() -> dict[str, Analysis]:
    """Every analysis, by name, in their declared order."""
    found: list[Analysis] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        analysis = getattr(module, "ANALYSIS", None)
        if not isinstance(analysis, Analysis):
            raise TypeError(f"{module.__name__} declares no ANALYSIS (an qdcat.analyses.Analysis)")
        if analysis.name != info.name:
            raise TypeError(
                f"{module.__name__} declares analysis {analysis.name!r}; name it after its module"
            )
        found.append(analysis)
    return {a.name: a for a in sorted(found, key=lambda a: (a.order, a.name))}


def names() -> list[str]:
    return list(registry())


def get(name: str) -> Analysis:
    try:
        return registry()[name]
    except KeyError:
        raise InvalidValueError(f"unknown analysis {name!r}; choose from: {', '.join(registry())}") from None


def sources() -> list[str]:
    """Every query source besides the dots view: each analysis, and each analysis's parts."""
    out: list[str] = []
    for a in registry().values():
        out.append(a.name)
        if a.parts_view is not None:
            out.append(a.parts_view.name)
    return out


def source(name: str) -> Analysis | PartsView:
    """An analysis (``"decay"``) or an analysis's parts (``"levels.level"``) by its query name."""
    analysis, dot, part = name.partition(".")
    if not dot:
        return get(name)
    view = registry()[analysis].parts_view if analysis in registry() else None
    if view is None or view.parts.name != part:
        raise InvalidValueError(f"unknown source {name!r}; choose from: dots, {', '.join(sources())}")
    return view


def metadata() -> MetaData:
    """The catalog's whole schema: the core tables and every analysis's result table."""
    from qdcat.catalog.models import Base

    registry()
    return Base.metadata
