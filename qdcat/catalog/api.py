"""The catalog's Python API: everything the CLI can do, as functions.

:class:`Catalog` joins the SQL catalog and the raw-data store. It is the one
place where rows and raw data change together, so it owns the protocols that
keep them consistent:

* **writing raw data** — a ``pending`` asset row is committed *before* any
  bytes reach the store, the store group is committed, and only then do the
  measurement and the ``committed`` asset appear, in one transaction. A crash
  anywhere leaves at most a pending row plus partial bytes, which
  :meth:`Catalog.collect_garbage` removes;
* **deleting** — rows go in one transaction that marks their assets
  ``deleting``; the bytes go afterwards, and a crash in between is again
  finished by :meth:`Catalog.collect_garbage`.

The methods live in private modules by noun (``_samples``, ``_setups``,
``_measurements``, ``_rawdata``, ``_maintenance``, on ``_base``); what they
return is in :mod:`qdcat.catalog.records`.
"""

from __future__ import annotations

import os

from sqlalchemy import exc as sa_exc

from qdcat.catalog import db
from qdcat.catalog._maintenance import (
    DEFAULT_PENDING_GRACE,
    PARTIAL_GRACE,
    FsckProblem,
    GarbageReport,
    MaintenanceMixin,
)
from qdcat.catalog._measurements import MeasurementsMixin
from qdcat.catalog._params import ParamsMixin
from qdcat.catalog._parse import (
    parse_date,
    parse_datetime,
    parse_enum,
    parse_float,
    parse_id,
    parse_name,
)
from qdcat.catalog._rawdata import AlreadyIngestedError, RawDataMixin, TimeTagIngest
from qdcat.catalog._samples import SamplesMixin
from qdcat.catalog._setups import SetupsMixin
from qdcat.catalog._specs import MeasurementSpec, SettingsSpec, SourceFile
from qdcat.catalog._trash import TrashMixin
from qdcat.catalog.records import (
    CatalogStatus,
    ChannelRecord,
    DeletionImpact,
    DotDeletion,
    DotImport,
    DotRecord,
    DotSummary,
    MeasurementRecord,
    MeasurementRef,
    MeasurementSummary,
    RawAssetRecord,
    SampleDetail,
    SampleRecord,
    SampleSummary,
    SettingsRecord,
    SetupRecord,
    SetupSummary,
    SpecimenBrief,
    SpecimenRecord,
    SpecimenSummary,
)
from qdcat.config import Config, load_config, write_config_file
from qdcat.errors import QdcatError

__all__ = [
    "DEFAULT_PENDING_GRACE",
    "PARTIAL_GRACE",
    "AlreadyIngestedError",
    "Catalog",
    "CatalogStatus",
    "ChannelRecord",
    "DeletionImpact",
    "DotDeletion",
    "DotImport",
    "DotRecord",
    "DotSummary",
    "FsckProblem",
    "GarbageReport",
    "MeasurementRecord",
    "MeasurementRef",
    "MeasurementSpec",
    "MeasurementSummary",
    "RawAssetRecord",
    "SampleDetail",
    "SampleRecord",
    "SampleSummary",
    "SettingsRecord",
    "SettingsSpec",
    "SetupRecord",
    "SetupSummary",
    "SourceFile",
    "SpecimenBrief",
    "SpecimenRecord",
    "SpecimenSummary",
    "TimeTagIngest",
    "init_catalog",
    "open_catalog",
    "parse_date",
    "parse_datetime",
    "parse_enum",
    "parse_float",
    "parse_id",
    "parse_name",
]


class Catalog(
    SamplesMixin, SetupsMixin, MeasurementsMixin, RawDataMixin, MaintenanceMixin, TrashMixin, ParamsMixin
):
    """A catalog database plus its raw-data store. Use :func:`open_catalog`.

    By noun: samples, specimens and dots (``add_sample``, ``list_dots``,
    ``import_dots_csv``, ``delete_sample``…); setups (``add_setup``,
    ``channel_roles``…); measurements (``add_measurement``, ``list_measurements``,
    ``get_measurement``, ``delete_measurement``…); raw data
    (``new_timetag_measurement``, ``add_array_measurement``, ``open_timetags``,
    ``read_arrays``); maintenance (``collect_garbage``, ``fsck``, ``status``).
    """


# ---------------------------------------------------------------------------
# opening
# ---------------------------------------------------------------------------
def open_catalog(
    home: str | os.PathLike[str] | None = None,
    *,
    database_url: str | None = None,
    store_url: str | None = None,
    config: Config | None = None,
    check_schema: bool = True,
) -> Catalog:
    """Open an existing catalog (``qdcat init`` creates one).

    Raises :class:`~qdcat.errors.SchemaOutdatedError` naming ``qdcat db upgrade``
    when the database is behind this version of qdcat.
    """
    cfg = config or load_config(home, database_url=database_url, store_url=store_url)
    engine = db.make_engine(cfg.database_url)
    if check_schema:
        try:
            db.check_schema(engine)
        except BaseException:
            engine.dispose()
            raise
    return Catalog(cfg, engine)


def init_catalog(
    home: str | os.PathLike[str] | None = None,
    *,
    database_url: str | None = None,
    store_url: str | None = None,
    config: Config | None = None,
) -> Catalog:
    """Create (or bring up to date) a catalog: directory, config file, schema, store."""
    cfg = config or load_config(home, database_url=database_url, store_url=store_url)
    cfg.home.mkdir(parents=True, exist_ok=True)
    if not cfg.config_file.exists():
        write_config_file(cfg)
    engine = db.make_engine(cfg.database_url)
    try:
        db.upgrade(engine)
    except sa_exc.OperationalError as exc:
        engine.dispose()
        raise QdcatError(
            f"cannot reach the database {cfg.describe()['database_url']}: {exc.orig}; "
            "check the server and QDCAT_DATABASE_URL"
        ) from exc
    cat = Catalog(cfg, engine)
    cat.store  # noqa: B018  (creates the local store directory now, not at first ingest)
    return cat
