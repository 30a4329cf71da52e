"""Export to Photon-HDF5: validated by phconvert, read back bit for bit (both backends).

qdcat writes the files with h5py alone; phconvert, the reference implementation, validates them here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qdcat.catalog.api import Catalog
from qdcat.errors import InvalidValueError
from qdcat.ingest.export import export_photon_hdf5
from qdcat.ingest.photon_hdf5 import open_photon_hdf5
from qdcat.ingest.pipeline import IngestItem, ingest_file


def assert_valid(path: Path) -> None:
    """phconvert's validator, strict: spec names and kinds, spec TITLEs, the root format fields."""
    import tables
    from phconvert.hdf5 import assert_valid_photon_hdf5

    with tables.open_file(str(path)) as f:
        assert_valid_photon_hdf5(f, warnings=False, strict_description=True, require_rootformat=True)


@pytest.mark.parametrize("name", ["psd_picoharp_v30_t2.ptu", "psd_hydraharp_v20_t3.ptu"])
def test_export_round_trip(populated: Catalog, shared_timetags: Path, tmp_path: Path, name: str) -> None:
    populated.add_setup("pq", channels={0: "hbt_a", 1: "hbt_b", 64: "sync"})
    out = ingest_file(populated, IngestItem(shared_timetags / name, "g2_cw", "slide-1", dot="d1", setup="pq"))
    path = export_photon_hdf5(populated, out.measurement_id, tmp_path / "m.h5")
    assert_valid(path)
    stored = populated.open_timetags(out.measurement_id).read_all()
    src = open_photon_hdf5(path)
    blocks = list(src.iter_blocks(100_000))
    t = np.concatenate([b.timestamps_ps for b in blocks])
    c = np.concatenate([b.channels for b in blocks])
    assert np.array_equal(t, stored.timestamps_ps) and np.array_equal(c, stored.channels)
    if stored.nanotimes is not None:
        assert np.array_equal(np.concatenate([b.nanotimes for b in blocks]), stored.nanotimes)
    with pytest.raises(InvalidValueError, match="exists"):
        export_photon_hdf5(populated, out.measurement_id, path)
    # and it ingests again as a new file of identical content
    populated.add_dot("slide-1", "d9", 0, 0)
    again = ingest_file(populated, IngestItem(path, "g2_cw", "slide-1", dot="d9", setup="pq"))
    assert again.status == "ingested" and again.events == out.events
