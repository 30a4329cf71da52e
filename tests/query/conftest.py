"""An ingested and analysed simulated session, on each backend."""

from __future__ import annotations

import pytest

from qdcat import jobs
from qdcat.catalog.api import Catalog
from qdcat.session import SessionSummary
from tests.jobs.conftest import ingest_session


@pytest.fixture
def analysed(catalog: Catalog, session: SessionSummary) -> Catalog:
    ingest_session(catalog, session)
    p = jobs.plan(catalog)
    outs = jobs.run_inline(catalog, p.to_run)
    assert all(o.status == "done" for o in outs), [o for o in outs if o.status != "done"]
    return catalog
