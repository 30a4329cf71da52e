"""Figures for every kind of result, and the query/stats/plot commands, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest
from typer.testing import CliRunner

from qdcat.catalog.api import Catalog
from qdcat.cli import app
from qdcat.query import figures


def _png_ok(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 10_000, path
    assert mpimg.imread(path).shape[:2] == (600, 900), path


def test_every_kind_of_result_has_its_figures(analysed: Catalog, tmp_path: Path) -> None:
    first: dict[str, int] = {}
    for m in analysed.list_measurements():
        first.setdefault(m["kind"], m["id"])
    # One acquisition feeds every analysis that applies to it, and shows all of their figures.
    blinking = {"trace", "on_off", "survival", "brightness", "levels_trace", "dwell_times"}
    pulsed = {"decay", "g2_pulsed", "flid", "level_decays"} | blinking
    expected = {
        "spectrum": {"spectrum"},
        "ensemble_spectrum": {"spectrum"},
        "decay": pulsed,
        "g2_cw": {"g2"} | blinking,
        "g2_pulsed": pulsed,
        "power_series_point": {"power_series", "g2"} | blinking,
        "saturation_point": {"saturation", "spectrum"},
        "transient_absorption": {"transient_absorption"},
    }
    for kind, names in expected.items():
        figs = figures.measurement_figures(analysed, first[kind])
        assert set(figs) == names, kind
        for path in figures.save_all(figs, tmp_path / kind, f"m{first[kind]}"):
            _png_ok(path)
    # a background trace is read by other analyses but has no figure of its own
    assert figures.measurement_figures(analysed, first["background_trace"]) == {}
    svg = figures.save_all(figures.measurement_figures(analysed, first["g2_cw"]), tmp_path, "g", fmt="svg")
    assert svg[0].read_text().lstrip().startswith("<?xml")
    for fig, name in (
        (figures.population_histogram(analysed, "fwhm_nm"), "hist.png"),
        (figures.population_scatter(analysed, "energy_ev", "lifetime_ns"), "scatter.png"),
    ):
        path = figures.plots.save_figure(fig, tmp_path / name)
        _png_ok(path)
        ax = fig.axes[0]
        assert "(" in ax.get_xlabel() and "(" in ax.get_ylabel()


def test_figures_draw_stored_results_and_never_fit(
    analysed: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every fit and optimiser qdcat could call raises: drawing every measurement still works."""
    import scipy.optimize

    from qdcat.analysis import _validate, blinking, fits, transient

    def fitted(*_: object, **__: object) -> None:
        raise AssertionError("a figure called a fit")

    for module, names in (
        (fits, [n for n in dir(fits) if n.startswith(("fit_", "g2_pulsed", "pulsed_peak"))]),
        (blinking, ["analyze_blinking", "power_law_loglog", "power_law_ml_discrete", "_loglog"]),
        (transient, ["fit_ta_biexponential"]),
        (_validate, ["poisson_fit"]),
        (scipy.optimize, ["least_squares", "minimize", "minimize_scalar", "curve_fit", "brentq"]),
    ):
        for name in names:
            monkeypatch.setattr(module, name, fitted)
    drawn = set()
    for m in analysed.list_measurements():
        figs = figures.measurement_figures(analysed, m["id"]) if m["kind"] != "background_trace" else {}
        drawn |= set(figs)
    assert drawn >= {
        "spectrum",
        "decay",
        "g2",
        "g2_pulsed",
        "trace",
        "on_off",
        "survival",
        "power_series",
        "saturation",
        "transient_absorption",
        "brightness",
    }


@pytest.fixture
def qcli(analysed: Catalog):  # type: ignore[no-untyped-def]
    cfg = analysed.config
    env = {
        "QDCAT_HOME": str(cfg.home),
        "QDCAT_DATABASE_URL": cfg.database_url,
        "QDCAT_STORE_URL": cfg.store_url,
    }
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    return invoke


def test_query_stats_and_plot_commands(qcli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(qcli("query", "dots", "--where", "fwhm_nm > 10 and g2_zero < 0.9", "--json").stdout)
    assert rows and all(r["fwhm_nm"] > 10 and r["g2_zero"] < 0.9 for r in rows)
    out = tmp_path / "dots.parquet"
    qcli("query", "dots", "--where", "fwhm_nm > 10 and g2_zero < 0.9", "--parquet", str(out))
    frame = pd.read_parquet(out)
    assert sorted(frame["dot"]) == sorted(r["dot"] for r in rows)
    csv_text = qcli("query", "results", "decay", "--csv", "--columns", "dot,lifetime_ns").stdout
    assert csv_text.splitlines()[0] == "dot,lifetime_ns"
    table = qcli("query", "dots", "--sample", "InP-ZnSe-sim").output
    assert "QD001" in table and "CD001" not in table
    assert "sigma_cm2" in qcli("query", "fields", "power_series").output

    st = json.loads(qcli("stats", "fwhm_nm", "--by", "sample", "--json").stdout)
    assert {r["sample"] for r in st} == {"InP-ZnSe-sim", "CdSe-CdS-sim"} and all(r["n"] >= 2 for r in st)
    cor = json.loads(qcli("correlate", "energy_ev", "fwhm_nm", "--json").stdout)
    assert cor[0]["group"] == "all" and -1 <= cor[0]["pearson_r"] <= 1
    cmp = json.loads(
        qcli("compare", "fwhm_nm", "--samples", "InP-ZnSe-sim", "--samples", "CdSe-CdS-sim", "--json").stdout
    )
    assert 0 <= cmp[0]["ks_p"] <= 1 if isinstance(cmp, list) else 0 <= cmp["ks_p"] <= 1

    qcli("plot", "hist", "lifetime_ns", "-o", str(tmp_path / "h.png"))
    _png_ok(tmp_path / "h.png")
    qcli("plot", "scatter", "energy_ev", "lifetime_ns", "-o", str(tmp_path / "s.svg"))
    assert (tmp_path / "s.svg").stat().st_size > 5_000
    listed = qcli("plot", "measurement", "1", "-o", str(tmp_path / "m")).output.split()
    assert listed and all(Path(p).is_file() for p in listed)

    bad = qcli("query", "dots", "--where", "fwhm_nm > 1; DROP TABLE dot", code=1)
    assert bad.output.startswith("error: unexpected ';'") and "Traceback" not in bad.output
    bad = qcli("stats", "fwhm", code=1)
    assert "unknown column(s) fwhm" in bad.output
    bad = qcli("compare", "fwhm_nm", "--samples", "InP-ZnSe-sim", "--samples", "Nope", code=1)
    assert "no sample 'Nope'" in bad.output
    bad = qcli("plot", "hist", "fwhm_nm", "-o", str(tmp_path / "x.jpg"), code=1)
    assert "png" in bad.output.lower()


def test_the_study_figure_set_from_one_command(analysed: Catalog, tmp_path: Path) -> None:
    from qdcat.query import api as q
    from qdcat.query.study import save_study, study_figures

    inp = next(s["name"] for s in analysed.list_samples() if s["material"].startswith("InP"))
    figs = study_figures(analysed, inp)
    names = [f.name for f in figs]
    for expected in (
        "fig2a_spectrum",
        "fig2b_center_wavelength",
        "fig2c_linewidth",
        "fig3b_g2_cw",
        "fig5a_trace",
    ):
        assert expected in names, names
    assert len(names) == len(set(names))
    # captions carry the numbers of the catalog, not of the figure code
    n = int(q.population(analysed, "center_nm", sample=inp)["n"].iloc[0])
    caption = next(f.caption for f in figs if f.name == "fig2b_center_wavelength")
    assert caption.startswith(f"center_nm of {n} dots")
    index = save_study(figs, tmp_path / "study", fmt="pdf")
    lines = [ln for ln in index.read_text().splitlines() if ln.startswith("- `")]
    assert len(lines) == len(figs)
    for f in figs:
        assert (tmp_path / "study" / f"{f.name}.pdf").read_bytes().startswith(b"%PDF")
    res = CliRunner().invoke(
        app,
        ["plot", "study", "--sample", inp, "-o", str(tmp_path / "cli"), "--size", "3.4x2.6", "--dpi", "200"],
        env={"QDCAT_HOME": str(analysed.config.home), "QDCAT_DATABASE_URL": analysed.config.database_url,
             "QDCAT_STORE_URL": analysed.config.store_url},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert mpimg.imread(tmp_path / "cli" / "fig2a_spectrum.png").shape[:2] == (520, 680)
