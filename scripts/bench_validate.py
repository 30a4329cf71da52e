"""What the catalog's write check (qdcat/catalog/validate.py) costs, in one run.

    python scripts/bench_validate.py                 # 10^4 dots, 5 repeats, SQLite
    python scripts/bench_validate.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Every ORM row is checked against its columns before it is written. The peer is
the same write with the check's listeners removed, measured in the same run,
interleaved: a fresh catalog per repeat, then ``Catalog.import_dots`` of N dots
in one transaction (timed). Reported: medians, and checked/unchecked. The machine
is shared: read the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from qdcat.catalog import db
from qdcat.catalog import validate as v
from qdcat.catalog.api import open_catalog
from qdcat.catalog.models import Base


def _fresh_url(base: str | None, folder: Path) -> tuple[str, object]:
    if base is None:
        return f"sqlite:///{folder / 'catalog.sqlite'}", None
    name = f"qdcat_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(base).set(database=name).render_as_string(hide_password=False), (admin, name)


def _drop(handle: object) -> None:
    if handle is None:
        return
    admin, name = handle  # type: ignore[misc]
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def one(n: int, checked: bool, base: str | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url, handle = _fresh_url(base, folder)
        try:
            engine = db.make_engine(url)
            db.upgrade(engine)
            engine.dispose()
            cat = open_catalog(folder, database_url=url, store_url=str(folder / "store"))
            cat.add_sample("S", "InP/ZnSe")
            cat.add_specimen("sp", "S")
            rows = [{"label": f"d{i}", "x_um": i * 0.5, "y_um": i * 0.25, "notes": "bench"} for i in range(n)]
            if not checked:
                event.remove(Base, "before_insert", v._check_object)
                event.remove(Base, "before_update", v._check_object)
            try:
                t0 = time.perf_counter()
                cat.import_dots("sp", rows)
                return time.perf_counter() - t0
            finally:
                if not checked:
                    v.install(Base)
                cat.close()
        finally:
            _drop(handle)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dots", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    one(200, True, args.database_url)  # warm-up
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeats):
        for checked in (False, True):
            times[checked].append(one(args.dots, checked, args.database_url))
    on, off = statistics.median(times[True]), statistics.median(times[False])
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"import_dots of {args.dots} dots on {backend}, medians of {args.repeats}")
    print(f"  unchecked (listeners removed): {off:.3f} s  ({args.dots / off:,.0f} rows/s)")
    print(f"  checked (validate.py):         {on:.3f} s  ({args.dots / on:,.0f} rows/s)")
    print(f"  checked / unchecked:           {on / off:.2f}x")


if __name__ == "__main__":
    main()
