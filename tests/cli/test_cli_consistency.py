"""The CLI speaks one way (issue 13): --version, repeatable --sample, --json/--csv wherever rows are
printed, the same column names for runs, readable help that ends in a valid example, and batch
ingest errors on stderr — on both backends where a catalog is needed."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from qdcat.catalog.api import Catalog
from qdcat.cli import app
from qdcat.ingest.pipeline import ingest_many, read_manifest
from qdcat.session import SessionSummary, register_session

# The delete commands belong to another change (they are being reworked); they get their
# examples there. Anything else without one fails.
DELETES = {"sample delete", "specimen delete", "dot delete", "measurement delete"}
# Commands printing one record (a `show`, a confirmation): --json only, CSV would flatten them.
RECORDS = {
    "sample add",
    "sample show",
    "setup show",
    "dot show",
    "measurement show",
    "jobs show",
    "db status",
    "restore",
    "edit",
}
# These name the one sample they act on (a specimen is made of one; a study's figures are of one).
SAMPLE_NOT_A_FILTER = {"specimen add", "plot study"}
PYTHON_TYPES = re.compile(r"<(?:str|int|float|bool|path|list\[[^\]]*\])[^>]*>")


def _commands() -> Iterator[tuple[str, Any, Any]]:
    """(path, click command, its context) for every leaf command of ``qdcat``."""
    root = typer.main.get_command(app)

    def walk(cmd: Any, ctx: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
        subs = getattr(cmd, "commands", None)
        if subs is None:
            yield path, cmd, ctx
            return
        for name, sub in subs.items():
            yield from walk(sub, typer.Context(sub, info_name=name, parent=ctx), f"{path} {name}".strip())

    yield from walk(root, typer.Context(root, info_name="qdcat"), "")


def _options(cmd: Any, ctx: Any) -> dict[str, Any]:
    return {o: p for p in cmd.get_params(ctx) if p.param_type_name == "option" for o in p.opts}


def _examples(help_text: str) -> list[str]:
    """The examples a command's help ends with (continuation lines joined)."""
    last = help_text.strip().split("\n\n")[-1]
    return [" ".join(e.split()) for e in re.split(r"^Example: ", last, flags=re.MULTILINE) if e.strip()]


def _parse(example: str) -> None:
    """Parse an example as `qdcat` would (names, values, types, ranges) without running it."""
    words = shlex.split(example)
    assert words[0] == "qdcat", example
    cmd: Any = typer.main.get_command(app)
    ctx = typer.Context(cmd, info_name="qdcat")
    words = words[1:]
    while getattr(cmd, "commands", None) is not None:
        name, words = words[0], words[1:]
        cmd = cmd.get_command(ctx, name)
        assert cmd is not None, f"{example}: no command {name!r}"
        ctx = typer.Context(cmd, info_name=name, parent=ctx)
    cmd.make_context(ctx.info_name, words, parent=ctx.parent)


# -- 1. --version ------------------------------------------------------------------------------------


def test_version_flag_prints_what_the_version_command_prints() -> None:
    runner = CliRunner()
    flag, command = runner.invoke(app, ["--version"]), runner.invoke(app, ["version"])
    assert flag.exit_code == command.exit_code == 0, (flag.output, command.output)
    assert flag.stdout == command.stdout and re.fullmatch(r"\d+\.\d+\S*\n", flag.stdout)
    # eager: it answers before any command runs (no catalog needed)
    assert runner.invoke(app, ["--version", "sample", "list"]).stdout == flag.stdout


# -- 2, 3, 5, 6: the shape of every command -----------------------------------------------------------


def test_every_sample_filter_is_a_repeatable_sample_option() -> None:
    for path, cmd, ctx in _commands():
        opts = _options(cmd, ctx)
        assert "--samples" not in opts or opts["--samples"].hidden, path
        if "--sample" in opts and path not in SAMPLE_NOT_A_FILTER:
            assert opts["--sample"].multiple, f"{path}: --sample is not repeatable"
            assert opts["--sample"].metavar == "NAME", path


def test_every_command_printing_rows_takes_json_and_csv() -> None:
    for path, cmd, ctx in _commands():
        opts = _options(cmd, ctx)
        if "--json" in opts and path not in RECORDS:
            assert "--csv" in opts, f"{path} prints rows with --json but has no --csv"
    for path in ("correlate", "compare", "results show", "analyze", "ingest", "fsck", "query fields"):
        cmd, ctx = next((c, x) for p, c, x in _commands() if p == path)
        assert {"--json", "--csv"} <= set(_options(cmd, ctx)), path


def test_help_shows_what_to_type_not_python_types() -> None:
    runner = CliRunner()
    for path, cmd, ctx in [("", None, None), *_commands()]:
        res = runner.invoke(app, [*path.split(), "--help"], env={"COLUMNS": "200"})
        assert res.exit_code == 0, (path, res.output)
        assert not PYTHON_TYPES.search(res.output), f"qdcat {path} --help: {PYTHON_TYPES.search(res.output)}"
        if cmd is None:
            continue
        for p in cmd.get_params(ctx):
            shown = p.display_type_rich(ctx)
            if getattr(p, "is_flag", False):
                assert shown is None, f"{path} {p.opts}: a flag shows no type, got {shown!r}"
            else:
                assert shown and re.fullmatch(r"[A-Z][A-Z0-9_.=:\[\]]*", shown), (path, p.opts, shown)
            if getattr(p, "multiple", False):
                assert "repeatable" in (p.help or ""), f"{path} {p.opts} does not say it is repeatable"
    analyze = runner.invoke(app, ["analyze", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"^│ --sample\s+NAME\s+Only these samples. \(repeatable\)", analyze, flags=re.MULTILINE)
    assert re.search(r"^│ --dry-run\s+List what would run", analyze, flags=re.MULTILINE), analyze


def test_every_command_help_ends_with_a_valid_example() -> None:
    missing = []
    for path, cmd, _ in _commands():
        examples = _examples(cmd.help or "")
        if not examples or not all(e.startswith("qdcat ") for e in examples):
            missing.append(path)
            continue
        for example in examples:
            try:
                _parse(example)
            except typer.TyperException as exc:  # a usage error names what is wrong
                pytest.fail(f"qdcat {path}: example {example!r} does not parse: {exc}")
    assert set(missing) <= DELETES, f"no `Example: qdcat …` at the end of the help of: {sorted(missing)}"


def test_example_parsing_catches_a_wrong_example() -> None:
    with pytest.raises(typer.TyperException, match="no-such-option"):
        _parse("qdcat analyze --no-such-option")
    with pytest.raises(typer.TyperException, match="valid integer"):
        _parse("qdcat export not-a-number out.h5")
    with pytest.raises(typer.TyperException, match="Missing"):
        _parse("qdcat correlate energy_ev")


# -- on both backends ------------------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path, empty_database_url: str):  # type: ignore[no-untyped-def]
    """``qdcat`` against a fresh catalog home with three samples, one specimen and dot on each."""
    env = {"QDCAT_HOME": str(tmp_path / "home"), "QDCAT_DATABASE_URL": empty_database_url}
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    invoke("init")
    for sample in ("A", "B", "C"):
        invoke("sample", "add", sample, "--material", "InP/ZnSe")
        invoke("specimen", "add", f"slide-{sample}", "--sample", sample)
        invoke("dot", "add", "QD1", "1", "2", "--specimen", f"slide-{sample}")
    return invoke


def test_sample_filters_take_several_samples(run) -> None:  # type: ignore[no-untyped-def]
    specimens = json.loads(run("specimen", "list", "--sample", "A", "--sample", "C", "--json").stdout)
    assert sorted(s["name"] for s in specimens) == ["slide-A", "slide-C"]
    dots = list(
        csv.DictReader(io.StringIO(run("dot", "list", "--sample", "B", "--sample", "A", "--csv").stdout))
    )
    assert sorted(d["sample"] for d in dots) == ["A", "B"]
    assert len(json.loads(run("dot", "list", "--json").stdout)) == 3  # no --sample: all
    assert json.loads(run("measurement", "list", "--sample", "A", "--sample", "B", "--json").stdout) == []
    assert "nothing to analyse" in run("analyze", "--sample", "A", "--sample", "B", "--dry-run").stderr
    for args in (
        ("specimen", "list", "--sample", "A", "--sample", "Nope"),
        ("measurement", "list", "--sample", "A", "--sample", "Nope"),
        ("analyze", "--sample", "A", "--sample", "Nope"),
    ):
        res = run(*args, code=1)
        assert res.stderr.splitlines() == [res.stderr.splitlines()[0]], res.stderr
        assert res.stderr.startswith("error: unknown sample 'Nope'"), (args, res.stderr)
    assert run("jobs", "list", "--json").stdout.strip() == "[]"  # the refused analyze queued nothing


def test_ingest_failures_are_error_lines_on_stderr_and_exit_1(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.ptu"
    bad.write_bytes(b"not a PTU file")
    missing = tmp_path / "missing.ptu"
    args = ("ingest", str(bad), str(missing), "--kind", "decay", "--specimen", "slide-A")
    res = run(*args, "--json", code=1)
    rows = json.loads(res.stdout)  # the batch report stays whole on stdout
    assert [(r["file"], r["status"]) for r in rows] == [("bad.ptu", "failed"), ("missing.ptu", "failed")]
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, res.stderr
    assert errors[0].startswith(f"error: {bad}: ") and "PTU" in errors[0]
    assert errors[1].startswith(f"error: {missing}: ") and "not found" in errors[1]
    assert "Traceback" not in res.output
    table = run(*args, code=1)
    assert "bad.ptu" in table.stdout and "failed" in table.stdout and "error:" not in table.stdout
    csv_rows = list(csv.DictReader(io.StringIO(run(*args, "--csv", code=1).stdout)))
    assert [r["status"] for r in csv_rows] == ["failed", "failed"]


# -- with results, on both backends ------------------------------------------------------------------------


@pytest.fixture
def lab(catalog: Catalog, session: SessionSummary):  # type: ignore[no-untyped-def]
    """The simulated session's spectra in a catalog, and ``qdcat`` pointed at it."""
    register_session(catalog, session.session_toml)
    spectra = [i for i in read_manifest(session.manifest) if i.kind == "spectrum"]
    assert all(o.status == "ingested" for o in ingest_many(catalog, spectra))
    cfg = catalog.config
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

    invoke.spectra = spectra  # type: ignore[attr-defined]
    return invoke


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_analyze_and_jobs_list_name_runs_the_same_way(lab) -> None:  # type: ignore[no-untyped-def]
    planned = json.loads(lab("analyze", "--analysis", "spectrum", "--dry-run", "--json").stdout)
    assert planned and all(r["target"].startswith("measurement:") for r in planned)
    assert all(r["acquisition"] and r["action"] == "would run" for r in planned)
    done = _csv(lab("analyze", "--analysis", "spectrum", "--csv").stdout)
    assert [(r["analysis"], r["done"]) for r in done] == [("spectrum", str(len(planned)))]
    runs = json.loads(lab("jobs", "list", "--json").stdout)
    assert {"id", "analysis", "target"} <= set(planned[0]) & set(runs[0])
    assert sorted(r["target"] for r in runs) == sorted(r["target"] for r in planned)
    assert {r["analysis"] for r in runs} == {r["analysis"] for r in planned} == {"spectrum"}


def test_population_answers_and_results_as_csv(lab) -> None:  # type: ignore[no-untyped-def]
    lab("analyze", "--analysis", "spectrum")
    samples = sorted(s["name"] for s in json.loads(lab("sample", "list", "--json").stdout))
    assert len(samples) == 2
    cor = _csv(lab("correlate", "energy_ev", "fwhm_nm", "--by", "sample", "--csv").stdout)
    assert sorted(r["group"] for r in cor) == samples and all(-1 <= float(r["pearson_r"]) <= 1 for r in cor)
    cmp = _csv(lab("compare", "fwhm_nm", "--sample", samples[0], "--sample", samples[1], "--csv").stdout)
    assert len(cmp) == 1 and 0 <= float(cmp[0]["ks_p"]) <= 1
    as_json = json.loads(
        lab("compare", "fwhm_nm", "--sample", samples[0], "--sample", samples[1], "--json").stdout
    )
    assert as_json["ks_p"] == pytest.approx(float(cmp[0]["ks_p"]))
    old = lab("compare", "fwhm_nm", "--samples", samples[0], "--samples", samples[1], "--json")
    assert json.loads(old.stdout)["ks_p"] == as_json["ks_p"] and "deprecated" in old.stderr
    assert "--samples" not in lab("compare", "--help").output
    stats = _csv(
        lab(
            "stats", "fwhm_nm", "--by", "sample", "--sample", samples[0], "--sample", samples[1], "--csv"
        ).stdout
    )
    assert sorted(r["sample"] for r in stats) == samples
    measurement = json.loads(lab("measurement", "list", "--kind", "spectrum", "--json").stdout)[0]["id"]
    results = _csv(lab("results", "show", str(measurement), "--csv").stdout)
    assert [r["analysis"] for r in results] == ["spectrum"] and results[0]["run"]
    for args in (("correlate", "energy_ev", "fwhm_nm"), ("results", "show", str(measurement))):
        res = lab(*args, "--json", "--csv", code=1)
        assert res.stderr.strip() == "error: choose one of --json and --csv", res.stderr
