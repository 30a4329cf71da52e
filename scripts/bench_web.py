"""The web view's dots page at a lab's scale: ``/dots?page=1`` over 10⁴ dots against ``q.dots`` alone.

Fills a SQLite catalog the way ``scripts/bench_queries.py`` does (Core bulk inserts,
about four current results per dot), then times, as medians of repeats in the same
run, the query alone (``q.dots(cat)``, every column; and the page's screenful of
columns, ``q.SCREEN_COLUMNS``) and the whole page rendered by the app (``GET
/dots?page=1`` through Starlette's TestClient: query, 100 rows of HTML).
Issue 14 asks for < 300 ms on the server.

    python scripts/bench_web.py --dots 10000 --repeats 7
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _fill(url: str, n_dots: int) -> None:
    spec = importlib.util.spec_from_file_location("bench_queries", HERE / "bench_queries.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module._fill(url, n_dots)


def _median_s(f: Callable[[], object], repeats: int) -> float:
    f()  # warm: imports, caches, the first connection
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dots", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "qdcat-bench-web")
    args = ap.parse_args()

    from starlette.testclient import TestClient

    from qdcat.catalog.api import open_catalog
    from qdcat.config import Config
    from qdcat.query import api as q
    from qdcat.web import create_app

    home = args.workdir / f"sqlite-{args.dots}"
    home.mkdir(parents=True, exist_ok=True)
    db_file = home / "catalog.sqlite"
    url = f"sqlite:///{db_file}"
    if not db_file.exists():
        t0 = time.perf_counter()
        _fill(url, args.dots)
        print(f"filled {args.dots} dots in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    config = Config(home=home, database_url=url, store_url=str(home / "store"))

    cat = open_catalog(config=config)
    query_s = _median_s(lambda: q.dots(cat), args.repeats)
    screen_s = _median_s(lambda: q.dots(cat, columns=list(q.SCREEN_COLUMNS)), args.repeats)
    cat.close()
    with TestClient(create_app(config)) as client:

        def page() -> None:
            r = client.get("/dots?page=1")
            assert r.status_code == 200, r.text[:500]

        page_s = _median_s(page, args.repeats)
    print(f"q.dots ({args.dots} dots), every column:   {query_s * 1e3:8.1f} ms")
    print(f"q.dots, the page's {len(q.SCREEN_COLUMNS)} columns:        {screen_s * 1e3:8.1f} ms")
    print(f"GET /dots?page=1:                      {page_s * 1e3:8.1f} ms")
    print(f"page / its query:                      {page_s / screen_s:8.2f}")


if __name__ == "__main__":
    main()
