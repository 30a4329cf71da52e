"""The read-only web view on both backends: pages, figures, downloads, the JSON API, and its defences."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from qdcat import jobs
from qdcat.analyses import metadata
from qdcat.catalog.api import Catalog
from qdcat.config import Config
from qdcat.ingest.pipeline import IngestItem, ingest_file
from qdcat.ingest.ptu_write import write_ptu_t2
from qdcat.query import api as q
from qdcat.simulate import CwExcitation, DotParams, simulate_cw
from qdcat.web import create_app

INJECTIONS = ["'; DROP TABLE dot; --", "<script>alert(1)</script>"]


def _cw(cat: Catalog, tmp_path: Path, dot: str, seed: int) -> int:
    run = simulate_cw(DotParams(), excitation=CwExcitation(intensity_w_cm2=100.0), duration_s=1.0, seed=seed)
    f = tmp_path / f"{dot}-{seed}.ptu"
    write_ptu_t2(f, [(run.stream.timestamps_ps, run.stream.channels)], acquisition_s=1.0)
    item = IngestItem(
        f,
        "g2_cw",
        "slide-1",
        dot=dot,
        setup="hbt",
        settings={"intensity_w_cm2": 100.0, "excitation_mode": "cw"},
    )
    out = ingest_file(cat, item)
    assert out.status == "ingested", out.message
    return int(out.measurement_id)


@pytest.fixture
def analysed(populated: Catalog, tmp_path: Path) -> tuple[Catalog, int]:
    mid = _cw(populated, tmp_path, "d1", 1)
    jobs.run_inline(populated, jobs.plan(populated).to_run)
    return populated, mid


@pytest.fixture
def client(analysed: tuple[Catalog, int], config: Config) -> Iterator[TestClient]:
    with TestClient(create_app(config), raise_server_exceptions=False) as c:
        yield c


def _counts(cat: Catalog) -> dict[str, int]:
    with cat.engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata().sorted_tables
        }


def _routes(mid: int) -> list[str]:
    return [
        "/",
        "/samples/InP-A",
        "/dots",
        "/dots?sort=-dot&where=dot%20%3D%20%27d1%27",
        "/dots/slide-1/d1",
        f"/measurements/{mid}",
        f"/figures/measurement/{mid}/g2.png",
        "/population?param=g2_zero",
        "/population.png?param=g2_zero",
        "/dots.csv",
        "/dots.json",
        "/api/dots",
        "/api/samples",
        "/api/fields",
        "/api/dots/slide-1/d1",
        f"/api/measurements/{mid}",
    ]


def test_every_page_renders_what_it_shows(client: TestClient, analysed: tuple[Catalog, int]) -> None:
    _, mid = analysed
    r = client.get("/")
    assert r.status_code == 200 and "InP-A" in r.text and "/samples/InP-A" in r.text
    assert "slide-1" in client.get("/samples/InP-A").text
    r = client.get("/dots")
    assert r.status_code == 200 and "g2_zero" in r.text and "/dots/slide-1/d1" in r.text
    r = client.get("/dots/slide-1/d1")
    assert r.status_code == 200 and "g2_cw" in r.text and f"/measurements/{mid}" in r.text
    r = client.get(f"/measurements/{mid}")
    assert r.status_code == 200 and "intensity_w_cm2" in r.text and "g2_cw" in r.text
    assert f"/figures/measurement/{mid}/g2.png" in r.text
    png = client.get(f"/figures/measurement/{mid}/g2.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert png.headers["content-type"] == "image/png"
    r = client.get("/population?param=g2_zero&by=sample")
    assert r.status_code == 200 and "/population.png?" in r.text and "InP-A" in r.text
    assert client.get("/population.png?param=g2_zero").content.startswith(b"\x89PNG")


def test_filters_sorting_and_pages(client: TestClient) -> None:
    r = client.get("/dots", params={"where": "dot = 'd1' and g2_zero < 10"})
    assert r.status_code == 200 and "1 dots" in r.text
    r = client.get("/dots", params={"where": "g2_zero <"})
    assert r.status_code == 400 and "position" in r.text and "g2_zero &lt;" in r.text
    r = client.get("/dots", params={"where": "no_such_field = 1"})
    assert r.status_code == 400 and "no_such_field" in r.text
    assert client.get("/api/dots", params={"where": "g2_zero <"}).json()["position"] >= 1
    assert client.get("/dots", params={"sort": "-g2_zero"}).status_code == 200
    assert client.get("/dots", params={"sort": "nope"}).status_code == 400
    for page in ("0", "-1", "x", "99"):
        assert client.get("/dots", params={"page": page}).status_code == 400
    # the page shows a screenful of columns unless told which; an unknown one is refused
    r = client.get("/dots", params={"columns": "dot,g2_zero,lifetime_ns"})
    assert r.status_code == 200 and "g2_zero" in r.text and "center_nm" not in r.text
    r = client.get("/dots", params={"columns": "dot,DROP TABLE dot"})
    assert r.status_code == 400 and "unknown column" in r.text


def test_downloads_and_api_equal_the_query_api(client: TestClient, analysed: tuple[Catalog, int]) -> None:
    cat, mid = analysed
    where = "g2_zero < 10"
    got = pd.read_csv(io.StringIO(client.get("/dots.csv", params={"where": where}).text))
    want = q.dots(cat, where=where)
    assert list(got.columns) == list(want.columns) and len(got) == len(want) == 1
    pd.testing.assert_frame_equal(got, pd.read_csv(io.StringIO(want.to_csv(index=False))))
    rows = client.get("/dots.json", params={"where": where}).json()
    assert [r["dot"] for r in rows] == list(want["dot"])
    assert client.get("/api/dots").json() == rows
    assert [s["name"] for s in client.get("/api/samples").json()] == ["InP-A"]
    card = client.get("/api/dots/slide-1/d1").json()
    assert card["dot"]["dot"] == "d1" and card["measurements"][0]["id"] == mid
    m = client.get(f"/api/measurements/{mid}").json()
    assert m["measurement"]["id"] == mid and {r["analysis"] for r in m["results"]} >= {"g2_cw"}


def test_unknown_things_are_404_and_bad_ids_400(client: TestClient, analysed: tuple[Catalog, int]) -> None:
    _, mid = analysed
    assert client.get("/samples/nope").status_code == 404
    assert client.get("/dots/slide-1/nope").status_code == 404
    assert client.get("/measurements/99999").status_code == 404
    assert client.get(f"/figures/measurement/{mid}/nope.png").status_code == 404
    for bad in ("0", "-3", "abc", "1e3", "99999999999999999999999"):
        r = client.get(f"/measurements/{bad}")
        assert r.status_code == 400 and "Traceback" not in r.text
    assert client.get("/api/measurements/abc").json()["error"]
    assert client.get("/population").status_code == 400
    assert client.get("/population?param=g2_zero&by=nope").status_code == 400


def test_injection_is_escaped_and_changes_nothing(client: TestClient, analysed: tuple[Catalog, int]) -> None:
    cat, mid = analysed
    before = _counts(cat)
    for bad in INJECTIONS:
        for path, params in [
            ("/dots", {"where": bad}),
            ("/dots", {"sample": bad}),
            ("/dots", {"specimen": bad}),
            ("/dots", {"sort": bad}),
            ("/dots", {"page": bad}),
            ("/dots.csv", {"where": bad}),
            ("/api/dots", {"sample": bad}),
            ("/population", {"param": bad}),
            ("/population", {"param": "g2_zero", "by": bad}),
            ("/population", {"param": "g2_zero", "source": bad}),
            (f"/samples/{bad}", {}),
            (f"/dots/{bad}/d1", {}),
            (f"/dots/slide-1/{bad}", {}),
            (f"/measurements/{bad}", {}),
            (f"/figures/measurement/{mid}/{bad}.png", {}),
            (f"/api/dots/slide-1/{bad}", {}),
        ]:
            r = client.get(path, params=params)
            assert r.status_code in (200, 400, 404), (path, params, r.status_code)
            assert "Traceback" not in r.text
            if r.headers["content-type"].startswith("text/html"):
                assert "<script>" not in r.text  # escaped by the templates
    r = client.get("/dots", params={"where": "dot = '<script>'"})
    assert "&lt;script&gt;" in r.text or "&#39;&lt;script&gt;" in r.text
    assert _counts(cat) == before


def test_path_traversal_is_refused(client: TestClient, analysed: tuple[Catalog, int]) -> None:
    _, mid = analysed
    for path in [
        f"/figures/measurement/{mid}/..%2F..%2Fetc%2Fpasswd.png",
        f"/figures/measurement/{mid}/..%2F..%2F..%2Fetc%2Fpasswd",
        f"/figures/measurement/{mid}/a%2Fb.png",
        f"/figures/measurement/{mid}/...png",
        "/figures/measurement/..%2F1/g2.png",
        "/dots.csv/..%2F..%2Fetc%2Fpasswd",
        "/dots/slide-1/..%2F..%2Fetc%2Fpasswd",
        "/samples/%2E%2E",
        "/dots/..%5C..%5Cetc/passwd",
    ]:
        r = client.get(path)
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert "root:" not in r.text


def test_only_get_is_allowed_and_nothing_changes(client: TestClient, analysed: tuple[Catalog, int]) -> None:
    cat, mid = analysed
    before = _counts(cat)
    for path in _routes(mid):
        assert client.get(path).status_code == 200, path
        assert client.head(path).status_code == 200, path
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert client.request(method, path).status_code == 405, (method, path)
    assert _counts(cat) == before


def test_a_token_guards_every_route(analysed: tuple[Catalog, int], config: Config) -> None:
    _, mid = analysed
    with TestClient(create_app(config, token="s3cret")) as c:
        for path in _routes(mid):
            assert c.get(path).status_code == 401, path
            assert c.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert c.get(path, params={"token": "s3cret-"}).status_code == 401
        assert c.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/dots", params={"token": "s3cret"}).status_code == 200
        assert c.post("/", headers={"Authorization": "Bearer s3cret"}).status_code == 405


def test_an_unexpected_failure_is_a_plain_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(q, "dots", broken)
    r = client.get("/dots")
    assert r.status_code == 500 and "internal error" in r.text and "secret detail" not in r.text
    assert client.get("/api/dots").json()["error"].startswith("internal error")
    assert "secret detail" in caplog.text  # logged for the server's operator
