"""The ``qdcat`` command line: one module per noun, each command parse → one library call → render.

:mod:`qdcat.cli._app` holds the root app and the error handling (every
:class:`~qdcat.errors.QdcatError` becomes one line on stderr and exit code 1);
the noun modules register their commands on it. Heavy imports (numpy, zarr,
SQLAlchemy models) happen inside command bodies so ``qdcat --help`` stays fast.
"""

from qdcat.cli._app import app, main

# The noun modules, imported for the commands they register: `qdcat --help` lists the
# commands, then the sub-apps, in the order these imports make them.
# isort: off
from qdcat.cli import admin  # noqa: F401
from qdcat.cli import backup  # noqa: F401
from qdcat.cli import samples  # noqa: F401
from qdcat.cli import curation  # noqa: F401
from qdcat.cli import setups  # noqa: F401
from qdcat.cli import measurements  # noqa: F401
from qdcat.cli import trash  # noqa: F401
from qdcat.cli import params  # noqa: F401
from qdcat.cli import serve  # noqa: F401
from qdcat.cli import ingest  # noqa: F401
from qdcat.cli import jobs  # noqa: F401
from qdcat.cli import queries  # noqa: F401
from qdcat.cli import plots  # noqa: F401
# isort: on

__all__ = ["app", "main"]
