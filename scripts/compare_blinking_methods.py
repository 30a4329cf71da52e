"""Blinking exponents two ways on the same simulated dots, against the truth.

Binned threshold (the study's method: 10 ms bins, on/off runs, discrete ML truncated at
one bin and the trace) versus photon by photon (change points → levels → on/off periods,
continuous ML truncated where the law starts (KS choice) and at the trace, the first period
left out, the last censored). Both pool the periods of all dots of a set (as
`qdcat blinking --method binned|levels`).

    python scripts/compare_blinking_methods.py --dots 12 --duration-s 60 --sets 4

Prints, per true (k_on, k_off), the pooled estimate of each method, its error and the
z-score against the truth, and the number of periods each method saw.
"""

from __future__ import annotations

import argparse

import numpy as np

from qdcat.analysis.blinking import analyze_blinking
from qdcat.analysis.changepoints import find_change_points
from qdcat.analysis.dwell import choose_t_min, dwell_periods, power_law_ml_pooled
from qdcat.analysis.levels import levels_from_change_points
from qdcat.analysis.powerlaw import power_law_ml_pooled as binned_pooled
from qdcat.simulate import BlinkingParams, CwExcitation, Detection, DotParams, simulate_cw

BIN_S = 0.01


def one_dot(k_on: float, k_off: float, duration_s: float, seed: int) -> tuple[dict, dict]:
    dot = DotParams(blinking=BlinkingParams(k_on=k_on, k_off=k_off, t_min_s=0.001, t_max_s=duration_s))
    run = simulate_cw(
        dot,
        excitation=CwExcitation(intensity_w_cm2=300.0),
        detection=Detection(background_a_cps=150.0, background_b_cps=150.0),
        duration_s=duration_s,
        seed=seed,
    )
    t = run.stream.timestamps_ps
    # binned: the study's trace and threshold
    edges = np.arange(0, round(duration_s / BIN_S) + 1) * round(BIN_S * 1e12)
    counts = np.histogram(t, edges)[0]
    b = analyze_blinking(counts, BIN_S, dark_counts_per_bin=300.0 * BIN_S)
    binned = {
        state: (np.round(getattr(b, f"{state}_durations_s") / BIN_S), counts.size) for state in ("on", "off")
    }
    # photon by photon
    cp = find_change_points(t)
    lv = levels_from_change_points(cp)
    on_level = lv.intensity_cps >= 0.5 * (lv.intensity_cps[0] + lv.intensity_cps[-1])
    periods = dwell_periods(cp.segment_durations_s, on_level[lv.segment_level])
    on_s, on_c, off_s, off_c = periods.for_fit()
    t_max = float(cp.segment_durations_s.sum())
    levels = {}
    for state, d, c in (("on", on_s, on_c), ("off", off_s, off_c)):
        complete = d[~c]
        if complete.size >= 2 and lv.n_levels > 1:
            t_min = choose_t_min(d, censored=c, t_max_s=t_max).t_min_s
            keep = d >= t_min
            levels[state] = (d[keep], c[keep], t_min, t_max)
    return binned, levels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dots", type=int, default=12)
    ap.add_argument("--duration-s", type=float, default=60.0)
    ap.add_argument("--sets", type=int, default=4, help="independent sets of dots per exponent pair")
    args = ap.parse_args()
    truths = [(1.2, 2.2), (1.5, 1.5), (1.8, 1.3)]
    print(f"{args.dots} dots × {args.duration_s:g} s per set, {args.sets} sets per pair; pooled ML per set")
    print(
        f"{'truth':>12} {'state':>5} {'method':>8} {'k (mean of sets)':>18}"
        f" {'z mean':>7} {'z SD':>6} {'periods':>8}"
    )
    for k_on, k_off in truths:
        z: dict[tuple[str, str], list[float]] = {}
        est: dict[tuple[str, str], list[float]] = {}
        npd: dict[tuple[str, str], list[int]] = {}
        for s in range(args.sets):
            pools_b: dict[str, list] = {"on": [], "off": []}
            pools_l: dict[str, list] = {"on": [], "off": []}
            for i in range(args.dots):
                binned, levels = one_dot(k_on, k_off, args.duration_s, seed=1000 * s + i)
                for st in ("on", "off"):
                    pools_b[st].append(binned[st])
                    if st in levels:
                        pools_l[st].append(levels[st])
            for st, k_true in (("on", k_on), ("off", k_off)):
                fb = binned_pooled(pools_b[st])
                fl = power_law_ml_pooled(pools_l[st])
                for name, k, err, n in (
                    ("binned", fb.k, fb.k_err, fb.n_periods),
                    ("levels", fl.k, fl.k_err, fl.n),
                ):
                    z.setdefault((st, name), []).append((k - k_true) / err)
                    est.setdefault((st, name), []).append(k)
                    npd.setdefault((st, name), []).append(n)
        for (st, name), zs in z.items():
            k_true = k_on if st == "on" else k_off
            print(
                f"{f'({k_on}, {k_off})':>12} {st:>5} {name:>8}"
                f" {np.mean(est[(st, name)]):>10.3f} (true {k_true})"
                f" {np.mean(zs):>7.2f} {np.std(zs, ddof=1) if len(zs) > 1 else float('nan'):>6.2f}"
                f" {int(np.mean(npd[(st, name)])):>8}"
            )


if __name__ == "__main__":
    main()
