"""Figures: ``plot measurement|hist|scatter`` — stored fits redrawn, populations as histograms and scatter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qdcat.cli._app import FlaggedOpt, MeasurementArg, SampleOpt, SourceOpt, WhereOpt, _catalog, _sub
from qdcat.cli.output import say

plot_app = _sub("plot", "Figures: a measurement with its fit, population histograms and scatter plots.")

FigOpt = Annotated[
    Path, typer.Option("--output", "-o", help="PNG or SVG file (a folder for `plot measurement`).")
]


@plot_app.command("measurement")
def plot_measurement(
    ctx: typer.Context,
    measurement_id: MeasurementArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the figures.")] = Path("."),
    fmt: Annotated[str, typer.Option("--format", help="png or svg.")] = "png",
) -> None:
    """A measurement's data with the fits of its current results (spectrum, decay, g2, blinking, series)."""
    from qdcat.query import figures

    with _catalog(ctx) as cat:
        figs = figures.measurement_figures(cat, measurement_id)
        paths = figures.save_all(figs, output, f"measurement_{measurement_id}", fmt)
    for p in paths:
        say(str(p))


@plot_app.command("hist")
def plot_hist(
    ctx: typer.Context,
    param: str,
    output: FigOpt,
    by: Annotated[str | None, typer.Option(help="Overlay one histogram per value, e.g. sample.")] = "sample",
    source: SourceOpt = "dots",
    sample: SampleOpt = None,
    where: WhereOpt = None,
    include_flagged: FlaggedOpt = False,
) -> None:
    """Histogram of a population, one overlay per group, with normal fits (QC failures left out)."""
    from qdcat import plots
    from qdcat.query import figures

    with _catalog(ctx) as cat:
        fig = figures.population_histogram(
            cat, param, by=by, source=source, sample=sample, where=where, include_flagged=include_flagged
        )
    say(str(plots.save_figure(fig, output)))


@plot_app.command("scatter")
def plot_scatter(
    ctx: typer.Context,
    x: str,
    y: str,
    output: FigOpt,
    by: Annotated[str | None, typer.Option(help="Colour by this field, e.g. sample.")] = "sample",
    source: SourceOpt = "dots",
    sample: SampleOpt = None,
    where: WhereOpt = None,
    include_flagged: FlaggedOpt = False,
) -> None:
    """Scatter of two fields with error bars and a regression line (QC failures left out)."""
    from qdcat import plots
    from qdcat.query import figures

    with _catalog(ctx) as cat:
        fig = figures.population_scatter(
            cat, x, y, by=by, source=source, sample=sample, where=where, include_flagged=include_flagged
        )
    say(str(plots.save_figure(fig, output)))
