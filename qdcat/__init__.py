"""qdcat: a measurement catalog for single-quantum-dot spectroscopy labs.

The catalog (SQL, via :mod:`qdcat.catalog`) records samples, specimens, dots,
setups and measurements; raw photon time tags live in a zarr store
(:mod:`qdcat.store`). Start with :func:`qdcat.open_catalog`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Catalog", "QdcatError", "__version__", "open_catalog"]

if TYPE_CHECKING:
    from qdcat.catalog.api import Catalog, open_catalog
    from qdcat.errors import QdcatError


def __getattr__(name: str) -> Any:
    # Lazy so that `import qdcat` (and the CLI's start-up) stays cheap.
    if name in ("Catalog", "open_catalog"):
        from qdcat.catalog import api

        return getattr(api, name)
    if name == "QdcatError":
        from qdcat.errors import QdcatError

        return QdcatError
    raise AttributeError(f"module 'qdcat' has no attribute {name!r}")
