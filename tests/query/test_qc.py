"""QC verdicts reach every population answer: left out by default, counted, kept on request."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from qdcat.catalog.api import Catalog
from qdcat.cli import app
from qdcat.query import api as q
from qdcat.query import figures


def _fail(cat: Catalog, table: str, dot: str, failed: str = "") -> None:
    """Give one dot's current result a failing verdict (as an analysis's QC rules would)."""
    with cat.engine.begin() as c:
        c.execute(
            text(
                f"UPDATE {table} SET qc = :qc, qc_failed = :failed, qc_reason = 'test: made to fail' "
                "WHERE dot_id = (SELECT id FROM dot WHERE label = :dot)"
            ),
            {"qc": "partial" if failed else "fail", "failed": failed, "dot": dot},
        )


def test_failed_results_are_left_out_counted_and_kept_on_request(analysed: Catalog) -> None:
    before = q.population(analysed, "fwhm_nm")
    n = int(before.loc["all", "n"])
    _fail(analysed, "result_spectrum", "QD001")
    after = q.population(analysed, "fwhm_nm")
    assert int(after.loc["all", "n"]) == n - 1 and after.attrs["flagged"] == 1
    assert after.attrs["flagged_reasons"] == ("test: made to fail",)
    kept = q.population(analysed, "fwhm_nm", include_flagged=True)
    assert int(kept.loc["all", "n"]) == n and kept.attrs["flagged"] == 0
    # the dots view still shows the value, with its verdict; --where can select on it
    dots = q.dots(analysed, columns=["dot", "fwhm_nm", "spectrum_qc", "spectrum_qc_reason"])
    row = dots[dots["dot"] == "QD001"].iloc[0]
    assert row["spectrum_qc"] == "fail" and row["fwhm_nm"] > 0 and "made to fail" in row["spectrum_qc_reason"]
    assert "QD001" not in set(q.dots(analysed, where="spectrum_qc = 'pass'")["dot"])
    c = q.correlation(analysed, "energy_ev", "fwhm_nm")["all"]
    assert c.n_flagged == 1 and c.n == n - 1


def test_a_partial_verdict_leaves_out_only_the_failed_quantity(analysed: Catalog) -> None:
    n_fwhm = int(q.population(analysed, "fwhm_nm").loc["all", "n"])
    n_center = int(q.population(analysed, "center_nm").loc["all", "n"])
    _fail(analysed, "result_spectrum", "QD002", failed="fwhm_nm fwhm_mev")
    assert int(q.population(analysed, "fwhm_nm").loc["all", "n"]) == n_fwhm - 1
    assert int(q.population(analysed, "fwhm_nm_err").loc["all", "n"]) == n_fwhm - 1  # its error too
    assert int(q.population(analysed, "center_nm").loc["all", "n"]) == n_center  # the centre stands


def test_commands_and_figures_say_what_they_left_out(analysed: Catalog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _fail(analysed, "result_spectrum", "QD001")
    cfg = analysed.config
    env = {
        "QDCAT_HOME": str(cfg.home),
        "QDCAT_DATABASE_URL": cfg.database_url,
        "QDCAT_STORE_URL": cfg.store_url,
    }
    runner = CliRunner()
    out = runner.invoke(app, ["stats", "fwhm_nm", "--json"], env=env)
    assert out.exit_code == 0 and "left out 1 result(s) that failed QC" in out.stderr
    rows = json.loads(out.stdout)
    kept = runner.invoke(app, ["stats", "fwhm_nm", "--json", "--include-flagged"], env=env)
    assert "left out" not in kept.stderr and json.loads(kept.stdout)[0]["n"] == rows[0]["n"] + 1
    cmp = runner.invoke(
        app, ["compare", "fwhm_nm", "--samples", "InP-ZnSe-sim", "--samples", "CdSe-CdS-sim"], env=env
    )
    assert cmp.exit_code == 0 and "left out 1" in cmp.stderr
    fig = figures.population_histogram(analysed, "fwhm_nm")
    assert "1 flagged left out" in fig.axes[0].get_title()
