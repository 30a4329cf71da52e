"""The result that stands for a dot in the dots view, kept right as results change.

The stored ``representative`` marks (qdcat.catalog.current) are compared with the
rule computed here from plain SQL and pandas: among a dot's current results of an
analysis, the one from a measurement whose kind names the analysis, then the
longest acquisition, then the newest measurement, then the newest run.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text

from qdcat import analyses as registry
from qdcat import jobs
from qdcat.catalog.api import Catalog
from qdcat.query import api as q


def _by_rule(cat: Catalog) -> dict[tuple[str, int], int]:
    out = {}
    with cat.engine.connect() as c:
        for a in registry.registry().values():
            rows = pd.DataFrame(
                c.execute(
                    text(
                        f"SELECT r.run_id, r.dot_id, r.measurement_id, m.kind, m.duration_s "
                        f"FROM result_{a.name} r JOIN analysis_run ar ON ar.id = r.run_id AND ar.is_current "
                        "LEFT JOIN measurement m ON m.id = r.measurement_id WHERE r.dot_id IS NOT NULL"
                    )
                ).fetchall(),
                columns=["run_id", "dot_id", "measurement_id", "kind", "duration_s"],
            )
            if rows.empty:
                continue
            rows["preferred"] = rows["kind"].astype(str).isin(a.primary_kinds)
            rows["duration"] = pd.to_numeric(rows["duration_s"]).fillna(-1.0)
            rows["mid"] = pd.to_numeric(rows["measurement_id"]).fillna(-1)
            best = rows.sort_values(
                ["preferred", "duration", "mid", "run_id"], ascending=False
            ).drop_duplicates("dot_id")
            out |= {(a.name, int(d)): int(r) for d, r in zip(best["dot_id"], best["run_id"], strict=True)}
    return out


def _stored(cat: Catalog) -> dict[tuple[str, int], int]:
    out = {}
    with cat.engine.connect() as c:
        for a in registry.registry().values():
            for run_id, dot_id in c.execute(
                text(f"SELECT run_id, dot_id FROM result_{a.name} WHERE representative")
            ):
                out[(a.name, int(dot_id))] = int(run_id)
    return out


def test_each_dot_is_represented_by_the_result_the_rule_chooses(analysed: Catalog) -> None:
    rule = _by_rule(analysed)
    assert rule, "the session has dot results"
    assert _stored(analysed) == rule


def test_deleting_the_measurement_that_represents_a_dot_hands_over_to_the_next(analysed: Catalog) -> None:
    rule = _by_rule(analysed)
    with analysed.engine.connect() as c:
        # a dot with two current results of one analysis (its cw and its pulsed acquisition)
        pairs = []
        for a in registry.registry().values():
            pairs += [
                (a.name, int(d))
                for (d,) in c.execute(
                    text(
                        f"SELECT r.dot_id FROM result_{a.name} r JOIN analysis_run ar "
                        "ON ar.id = r.run_id AND ar.is_current WHERE r.dot_id IS NOT NULL "
                        "GROUP BY r.dot_id HAVING count(*) > 1"
                    )
                )
            ]
        assert pairs, "the session has a dot with two results of one analysis"
        analysis, dot_id = pairs[0]
        run_id = rule[(analysis, dot_id)]
        (measurement_id,) = c.execute(
            text(f"SELECT measurement_id FROM result_{analysis} WHERE run_id = :r"), {"r": run_id}
        ).one()
    analysed.delete_measurement(int(measurement_id))
    after = _by_rule(analysed)
    assert (analysis, dot_id) in after and after[(analysis, dot_id)] != run_id
    assert _stored(analysed) == after


def test_new_current_results_take_over_and_the_view_follows(analysed: Catalog) -> None:
    p = jobs.plan(analysed, analyses=["g2_cw"], params={"g2_cw": {"window_ns": "60"}})
    outs = jobs.run_inline(analysed, p.to_run)
    assert outs and all(o.status == "done" for o in outs)
    rule = _by_rule(analysed)
    assert _stored(analysed) == rule
    view = q.dots(analysed, columns=["dot_id", "g2_cw_run_id"]).dropna()
    new_runs = {o.run_id for o in outs}
    shown = {int(r) for r in view["g2_cw_run_id"]}
    assert shown <= new_runs and shown == {rule[("g2_cw", int(d))] for d in view["dot_id"]}
