"""Instruments: ``setup add|list|show`` — which time-tagger input is which detector, and its facts."""

from __future__ import annotations

from typing import Annotated

import typer

from qdcat.cli._app import CsvOpt, JsonOpt, _catalog, _sub
from qdcat.cli.output import pick_format, render_record, render_rows, say

setup_app = _sub("setup", "Setups (instruments and their channel roles).")


@setup_app.command("add")
def setup_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique setup name, e.g. micro-PL.")],
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            metavar="CHANNEL=ROLE",
            help="CHANNEL=ROLE[:DETECTOR]; roles: hbt_a, hbt_b, sync, marker, detector.",
        ),
    ] = None,
    time_tagger_model: Annotated[str | None, typer.Option()] = None,
    time_tagger_resolution_ps: Annotated[float | None, typer.Option()] = None,
    spectrometer: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    ccd_offset_counts: Annotated[
        float | None, typer.Option(help="The camera's electronic offset (bias), counts per pixel.")
    ] = None,
    ccd_read_noise_counts: Annotated[
        float | None, typer.Option(help="The camera's read noise (1σ), counts.")
    ] = None,
    dark_cps: Annotated[
        list[str] | None,
        typer.Option("--dark-cps", metavar="CHANNEL=RATE", help="A detector's dark count rate (counts/s)."),
    ] = None,
    jitter_ps: Annotated[
        list[str] | None,
        typer.Option("--jitter-ps", metavar="CHANNEL=FWHM", help="A detector's timing jitter (ps)."),
    ] = None,
) -> None:
    """Register a setup: which time-tagger input is which detector, and facts the analyses use.

    Example: qdcat setup add microPL --channel 0=hbt_a --channel 1=hbt_b --channel 64=sync
    --dark-cps 0=250 --dark-cps 1=300 --ccd-offset-counts 600 --ccd-read-noise-counts 4.5
    """
    channels = _channels(channel)
    with _catalog(ctx) as cat:
        rec = cat.add_setup(
            name,
            channels=channels,
            time_tagger_model=time_tagger_model,
            time_tagger_resolution_ps=time_tagger_resolution_ps,
            spectrometer=spectrometer,
            description=description,
            ccd_offset_counts=ccd_offset_counts,
            ccd_read_noise_counts=ccd_read_noise_counts,
            dark_count_rate_cps=_per_channel(dark_cps, "--dark-cps"),
            timing_jitter_ps=_per_channel(jitter_ps, "--jitter-ps"),
        )
    say(f"added setup {rec['name']} with {len(rec['channels'])} channel(s)")


def _channels(specs: list[str] | None) -> dict[int, tuple[str, str | None]]:
    """``--channel 0=hbt_a --channel 2=sync:laser`` as {channel: (role, detector)}."""
    from qdcat.errors import InvalidValueError

    channels: dict[int, tuple[str, str | None]] = {}
    for spec in specs or []:
        ch, sep, rest = spec.partition("=")
        if not sep or not ch.strip().isdigit():
            raise InvalidValueError(f"--channel {spec!r} must look like 0=hbt_a or 2=sync:laser")
        role, _, detector = rest.partition(":")
        if int(ch) in channels:
            raise InvalidValueError(f"channel {ch} given twice")
        channels[int(ch)] = (role, detector or None)
    return channels


def _per_channel(values: list[str] | None, option: str) -> dict[int, str]:
    """``--dark-cps 0=250 --dark-cps 1=300`` as {channel: value} (the catalog parses the value)."""
    from qdcat.errors import InvalidValueError

    out: dict[int, str] = {}
    for spec in values or []:
        ch, sep, value = spec.partition("=")
        if not sep or not ch.strip().isdigit() or not value.strip():
            raise InvalidValueError(f"{option} {spec!r} must look like 0=250 (CHANNEL=VALUE)")
        out[int(ch)] = value
    return out


@setup_app.command("list")
def setup_list(ctx: typer.Context, as_json: JsonOpt = False, as_csv: CsvOpt = False) -> None:
    """List setups.

    Example: qdcat setup list --json
    """
    with _catalog(ctx) as cat:
        render_rows(cat.list_setups(), pick_format(as_json, as_csv), title="setups")


@setup_app.command("show")
def setup_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Setup name.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one setup with its channel map.

    Example: qdcat setup show micro-PL
    """
    with _catalog(ctx) as cat:
        render_record(cat.get_setup(name), pick_format(as_json, False), title=f"setup {name}")
