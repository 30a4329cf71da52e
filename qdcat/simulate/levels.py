"""Multi-level (grey-state) blinking of one dot in a pulsed T3 acquisition, with ground truth.

A dot jumps between emission states (bright, grey, dark) as a Markov jump
process: each state lasts a dwell time drawn from its own law (exponential or
truncated power law), then jumps to another state with the probabilities of a
row of the jump matrix. A-type (charging) grey states are dimmer *and* decay
faster (trion); B-type (trap-assisted) grey states are dimmer with the bright
state's lifetime. Per laser pulse the dot gives at most one detected photon
(antibunched), with probability ``bright_detection_per_pulse × brightness``;
its delay after the sync is IRF offset + Gaussian IRF + Exp(lifetime of the
state at that pulse), and it lands in the T3 record of whichever sync precedes
it (a long delay wraps into the next period, as on a real tagger).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from qdcat.errors import InvalidValueError
from qdcat.simulate._params import (
    CHANNEL_A,
    CHANNEL_B,
    check_int,
    check_real,
    check_seed,
    power_law_mean,
    sample_power_law,
    set_field,
)
from qdcat.simulate.photons import (
    T3Records,
    _bernoulli_indices,
    _check_budget,
    _check_duration,
    _check_type,
)

I64Array = npt.NDArray[np.int64]
F64Array = npt.NDArray[np.float64]

PS_PER_S = 1e12
MAX_STATES = 256
# The state path is walked one period at a time in Python (~0.3 µs per period).
MAX_PERIODS = 10_000_000
DIM_BRIGHTNESS = 0.7  # a state dimmer than this × the brightest is "dim" (grey)
A_TYPE_LIFETIME = 0.8  # a dim state decaying faster than this × the brightest's lifetime is A-type
B_TYPE_TOLERANCE = 0.1  # a dim state within ±10 % of the brightest's lifetime is B-type

DwellKind = Literal["exponential", "power_law"]
BlinkingType = Literal["A", "B", "none", "mixed"]


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class EmissionState:
    """One emission state: brightness relative to a fully bright state (0 = dark) and its lifetime.

    The detection probability per pulse in this state is
    ``bright_detection_per_pulse × brightness``; its photons decay with ``lifetime_ns``.
    """

    brightness: float
    lifetime_ns: float
    name: str = ""

    def __post_init__(self) -> None:
        set_field(self, "brightness", check_real("brightness", self.brightness, 0.0, 1.0))
        set_field(
            self,
            "lifetime_ns",
            check_real("lifetime_ns", self.lifetime_ns, 0.0, 1e5, lo_open=True, unit="ns"),
        )
        if not isinstance(self.name, str):
            raise InvalidValueError(f"name must be a string, got {self.name!r}")


@dataclass(frozen=True)
class DwellLaw:
    """How long a state lasts: exponential (``mean_s``) or truncated power law t^-k on [t_min_s, t_max_s].

    Build one with :meth:`exponential` or :meth:`power_law`; the fields of the
    other kind are None.
    """

    kind: DwellKind
    mean_s: float | None = None
    k: float | None = None
    t_min_s: float | None = None
    t_max_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind == "exponential":
            if self.k is not None or self.t_min_s is not None or self.t_max_s is not None:
                raise InvalidValueError("an exponential DwellLaw takes only mean_s (not k, t_min_s, t_max_s)")
            # 1 µs floor: shorter dwells would collapse onto the same picosecond switching time.
            set_field(self, "mean_s", check_real("mean_s", self.mean_s, 1e-6, 1e6, unit="s"))
        elif self.kind == "power_law":
            if self.mean_s is not None:
                raise InvalidValueError("a power-law DwellLaw takes k, t_min_s and t_max_s, not mean_s")
            set_field(self, "k", check_real("k", self.k, 0.0, 10.0, lo_open=True))
            set_field(self, "t_min_s", check_real("t_min_s", self.t_min_s, 1e-6, 1e4, unit="s"))
            t_max = check_real("t_max_s", self.t_max_s, self.t_min_s or 0.0, 1e6, lo_open=True, unit="s")
            set_field(self, "t_max_s", t_max)
        else:
            raise InvalidValueError(
                f"DwellLaw kind must be 'exponential' or 'power_law', got {self.kind!r}; "
                "use DwellLaw.exponential(mean_s) or DwellLaw.power_law(k, t_min_s, t_max_s)"
            )

    @classmethod
    def exponential(cls, mean_s: float) -> DwellLaw:
        """Exponential dwells of mean ``mean_s`` (a memoryless state)."""
        return cls("exponential", mean_s=mean_s)

    @classmethod
    def power_law(cls, k: float, t_min_s: float = 1e-3, t_max_s: float = 100.0) -> DwellLaw:
        """Truncated power-law dwells P(t) ∝ t^-k on [t_min_s, t_max_s]."""
        return cls("power_law", k=k, t_min_s=t_min_s, t_max_s=t_max_s)

    def _exp_mean(self) -> float:
        assert self.mean_s is not None  # validated for kind "exponential"
        return self.mean_s

    def _power_law(self) -> tuple[float, float, float]:
        assert self.k is not None and self.t_min_s is not None and self.t_max_s is not None
        return self.k, self.t_min_s, self.t_max_s

    @property
    def mean_dwell_s(self) -> float:
        """The mean of one dwell time, in s."""
        if self.kind == "exponential":
            return self._exp_mean()
        return power_law_mean(*self._power_law())

    def sample(self, rng: np.random.Generator, n: int) -> F64Array:
        """``n`` independent dwell times in s."""
        if self.kind == "exponential":
            return rng.exponential(self._exp_mean(), n)
        return sample_power_law(rng, *self._power_law(), n)

    def cdf(self, t_s: npt.ArrayLike) -> F64Array:
        """P(dwell <= t) at each ``t_s``."""
        t = np.asarray(t_s, dtype=np.float64)
        if self.kind == "exponential":
            out: F64Array = -np.expm1(-np.maximum(t, 0.0) / self._exp_mean())
            return out
        k, lo, hi = self._power_law()
        tc = np.clip(t, lo, hi)
        a = 1.0 - k
        if abs(a) < 1e-12:
            out = np.log(tc / lo) / math.log(hi / lo)
        else:
            out = (tc**a - lo**a) / (hi**a - lo**a)
        return out


def _as_matrix(transitions: Any, n: int) -> F64Array:
    try:
        m = np.array(transitions, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidValueError(
            f"transitions must be a {n}×{n} matrix of jump probabilities (one row and one column per "
            f"state), got {transitions!r}"
        ) from None
    if m.shape != (n, n):
        raise InvalidValueError(
            f"transitions must be a {n}×{n} matrix (one row and one column per state), got shape {m.shape}"
        )
    if not np.all(np.isfinite(m)) or np.any(m < 0.0):
        raise InvalidValueError("transitions must hold finite probabilities >= 0")
    for i in range(n):
        if m[i, i] != 0.0:
            raise InvalidValueError(
                f"transitions[{i}][{i}] = {m[i, i]:g}: the diagonal must be 0 (a jump always changes the "
                "state; how long a state lasts is set by its dwell law)"
            )
        if abs(m[i].sum() - 1.0) > 1e-9:
            raise InvalidValueError(
                f"row {i} of transitions sums to {m[i].sum():.12g}; each row must sum to 1 (the "
                f"probabilities of jumping from state {i} to each other state)"
            )
    return m


def _check_irreducible(m: F64Array) -> None:
    n = m.shape[0]
    reach = np.eye(n, dtype=np.int64) + (m > 0)
    for _ in range(max(1, math.ceil(math.log2(n)) + 1)):
        reach = np.minimum(reach @ reach, 1)
    if not np.all(reach > 0):
        i, j = np.argwhere(reach == 0)[0]
        raise InvalidValueError(
            f"state {j} can never be reached from state {i} with these transitions; every state must be "
            "reachable from every other (an irreducible jump matrix)"
        )


@dataclass(frozen=True)
class MultiLevelParams:
    """A dot's emission states, the dwell law of each and the jump probabilities between them.

    ``transitions[i][j]`` is the probability that a period in state i is
    followed by one in state j (rows sum to 1, zero diagonal); None jumps
    uniformly to the other states. ``start_state`` None draws the first state
    with the long-run time fractions (:attr:`stationary_fractions`).
    """

    states: tuple[EmissionState, ...]
    dwell: tuple[DwellLaw, ...]
    transitions: tuple[tuple[float, ...], ...] | None = None
    start_state: int | None = None

    def __post_init__(self) -> None:
        states = tuple(self.states) if isinstance(self.states, list | tuple) else None
        if not states or len(states) > MAX_STATES:
            raise InvalidValueError(f"states must be a tuple of 1 to {MAX_STATES} EmissionState")
        for i, s in enumerate(states):
            _check_type(f"states[{i}]", s, EmissionState)
        if max(s.brightness for s in states) <= 0.0:
            raise InvalidValueError("at least one state must emit (brightness > 0); all are dark")
        dwell = tuple(self.dwell) if isinstance(self.dwell, list | tuple) else (self.dwell,)
        if len(dwell) != len(states):
            raise InvalidValueError(
                f"dwell must hold one DwellLaw per state: {len(states)} states but {len(dwell)} dwell laws"
            )
        for i, d in enumerate(dwell):
            _check_type(f"dwell[{i}]", d, DwellLaw)
        set_field(self, "states", states)
        set_field(self, "dwell", dwell)
        n = len(states)
        if self.transitions is not None:
            if n == 1:
                raise InvalidValueError("a single state has no transitions; leave transitions=None")
            m = _as_matrix(self.transitions, n)
            _check_irreducible(m)
            set_field(self, "transitions", tuple(tuple(float(x) for x in row) for row in m))
        if self.start_state is not None:
            set_field(self, "start_state", check_int("start_state", self.start_state, 0, n - 1))

    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def transition_matrix(self) -> F64Array:
        """The n×n jump matrix (the uniform default filled in; [[0]] for a single state)."""
        n = self.n_states
        if self.transitions is not None:
            return np.array(self.transitions, dtype=np.float64)
        if n == 1:
            return np.zeros((1, 1))
        m: F64Array = (np.ones((n, n)) - np.eye(n)) / (n - 1)
        return m

    @property
    def jump_fractions(self) -> F64Array:
        """Long-run fraction of periods spent in each state (stationary law of the jump chain)."""
        n = self.n_states
        if n == 1:
            return np.ones(1)
        a = self.transition_matrix.T - np.eye(n)
        a[-1] = 1.0
        b = np.zeros(n)
        b[-1] = 1.0
        pi: F64Array = np.clip(np.linalg.solve(a, b), 0.0, None)
        pi /= pi.sum()
        return pi

    @property
    def mean_dwell_s(self) -> F64Array:
        return np.array([d.mean_dwell_s for d in self.dwell])

    @property
    def stationary_fractions(self) -> F64Array:
        """Long-run fraction of time in each state: periods × mean dwell, normalised."""
        w: F64Array = self.jump_fractions * self.mean_dwell_s
        w /= w.sum()
        return w

    @property
    def blinking_type(self) -> BlinkingType:
        """ "A", "B", "mixed" or "none", from the dim states' lifetimes against the brightest's.

        Dim states are those with 0 < brightness < 0.7 × the brightest. "none":
        no dim state (one state, or bright and dark only); "A": every dim state
        decays faster than 0.8 × the brightest's lifetime; "B": every dim state
        is within ±10 % of it; "mixed": anything else.
        """
        return classify_blinking(self.states)

    @classmethod
    def a_type(
        cls,
        *,
        grey_brightness: float = 0.3,
        grey_lifetime_ns: float = 6.0,
        bright_lifetime_ns: float = 20.0,
        bright_mean_s: float = 0.2,
        grey_mean_s: float = 0.1,
    ) -> MultiLevelParams:
        """A-type (charging): bright (τ = 20 ns) ↔ grey trion (30 %, τ = 6 ns); exponential dwells."""
        return cls(
            states=(
                EmissionState(1.0, bright_lifetime_ns, "bright"),
                EmissionState(grey_brightness, grey_lifetime_ns, "grey"),
            ),
            dwell=(DwellLaw.exponential(bright_mean_s), DwellLaw.exponential(grey_mean_s)),
        )

    @classmethod
    def b_type(
        cls,
        *,
        dim_brightness: float = 0.3,
        lifetime_ns: float = 20.0,
        bright_mean_s: float = 0.2,
        dim_mean_s: float = 0.1,
    ) -> MultiLevelParams:
        """B-type (trap-assisted): bright ↔ dim (30 %) with the same τ = 20 ns; exponential dwells."""
        return cls(
            states=(
                EmissionState(1.0, lifetime_ns, "bright"),
                EmissionState(dim_brightness, lifetime_ns, "dim"),
            ),
            dwell=(DwellLaw.exponential(bright_mean_s), DwellLaw.exponential(dim_mean_s)),
        )

    @classmethod
    def two_state_on_off(
        cls, *, lifetime_ns: float = 20.0, on_mean_s: float = 0.2, off_mean_s: float = 0.1
    ) -> MultiLevelParams:
        """Plain on/off blinking: on (τ = 20 ns) ↔ off (brightness 0); exponential dwells."""
        return cls(
            states=(EmissionState(1.0, lifetime_ns, "on"), EmissionState(0.0, lifetime_ns, "off")),
            dwell=(DwellLaw.exponential(on_mean_s), DwellLaw.exponential(off_mean_s)),
        )


def classify_blinking(states: tuple[EmissionState, ...]) -> BlinkingType:
    """The blinking type of a set of states; see :attr:`MultiLevelParams.blinking_type`."""
    brightest = max(states, key=lambda s: s.brightness)  # the first of equals
    tau0 = brightest.lifetime_ns
    dim = [s for s in states if 0.0 < s.brightness < DIM_BRIGHTNESS * brightest.brightness]
    if not dim:
        return "none"
    if all(s.lifetime_ns < A_TYPE_LIFETIME * tau0 for s in dim):
        return "A"
    if all(abs(s.lifetime_ns - tau0) <= B_TYPE_TOLERANCE * tau0 for s in dim):
        return "B"
    return "mixed"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class MultiLevelTruth:
    """What produced a multi-level T3 acquisition.

    Period i runs from ``period_start_ps[i]`` (the first at 0) to the next start
    (the last to the end of the acquisition) in state ``period_state[i]``;
    ``dwell_s`` are the realised period lengths (the last one clipped at the
    end). Pulse k (sync k at k·``sync_period_ps``) reaches the dot
    ``irf_offset_ps`` after its sync and sees the state at that time.
    ``photon_state`` is the state of the pulse that produced each record (−1:
    background). Rates are per state in counts/s over both detectors:
    ``expected_rate_cps`` the dot's signal, ``expected_rate_with_background_cps``
    plus ``background_cps``.
    """

    params: MultiLevelParams
    duration_s: float
    sync_period_ps: int
    n_pulses: int
    irf_offset_ps: float
    irf_sigma_ps: float
    bright_detection_per_pulse: float
    background_cps: float
    fraction_a: float
    period_start_ps: I64Array
    period_state: I64Array
    dwell_s: F64Array
    photon_state: npt.NDArray[np.int16]
    state_fraction: F64Array
    brightness: F64Array
    expected_rate_cps: F64Array
    expected_rate_with_background_cps: F64Array
    lifetime_ns: F64Array
    blinking_type: BlinkingType

    @property
    def n_states(self) -> int:
        return self.params.n_states

    @property
    def switch_times_ps(self) -> I64Array:
        """Times of the state changes (t = 0 excluded)."""
        return self.period_start_ps[1:]

    @property
    def period_end_ps(self) -> I64Array:
        end: I64Array = np.append(self.period_start_ps[1:], round(self.duration_s * PS_PER_S))
        return end

    def state_at(self, times_ps: npt.ArrayLike) -> I64Array:
        """The state at each time (times before 0 count as the first period, after the end as the last)."""
        idx = np.searchsorted(self.period_start_ps, np.asarray(times_ps), side="right") - 1
        out: I64Array = self.period_state[np.maximum(idx, 0)]
        return out


@dataclass(frozen=True, eq=False)
class MultiLevelResult:
    records: T3Records
    truth: MultiLevelTruth


# --------------------------------------------------------------------------- the state path


def _cumulative_rows(m: F64Array) -> list[list[float]]:
    """Per state the cumulative jump probabilities, with everything from the last possible target on
    set above 1 so that rounding can never select an impossible state (or the state itself)."""
    rows = []
    for row in m:
        cum = np.cumsum(row)
        cum[int(np.flatnonzero(row > 0)[-1]) :] = 2.0
        rows.append(cum.tolist())
    return rows


def _walk(rng: np.random.Generator, cum_rows: list[list[float]], first: int, n: int) -> I64Array:
    """``n + 1`` successive states of the jump chain, starting with ``first``."""
    if len(cum_rows) == 2:  # zero diagonal: the two states alternate
        return (first + np.arange(n + 1, dtype=np.int64)) % 2
    out = [first]
    s = first
    for u in rng.random(n).tolist():
        s = bisect.bisect_right(cum_rows[s], u)
        out.append(s)
    return np.array(out, dtype=np.int64)


def _draw_path(
    rng: np.random.Generator, params: MultiLevelParams, duration_ps: int
) -> tuple[I64Array, I64Array]:
    """Period starts (ps, the first at 0) and states of the dot's history over [0, duration_ps).

    The first period starts at t = 0 at a switch (a full dwell, not the
    stationary residual one).
    """
    n_states = params.n_states
    if params.start_state is None:
        cum = np.cumsum(params.stationary_fractions)
        first = min(int(np.searchsorted(cum, rng.random(), side="right")), n_states - 1)
    else:
        first = params.start_state
    if n_states == 1:
        return np.zeros(1, dtype=np.int64), np.full(1, first, dtype=np.int64)
    cum_rows = _cumulative_rows(params.transition_matrix)
    mean_jump_s = float(params.jump_fractions @ params.mean_dwell_s)
    states: list[I64Array] = []
    lengths: list[I64Array] = []
    total_ps = 0
    while total_ps < duration_ps:
        remaining_ps = duration_ps - total_ps
        n = int(min(1.2 * remaining_ps / PS_PER_S / mean_jump_s + 16, 1_000_000))
        seq = _walk(rng, cum_rows, first, n)
        first, seq = int(seq[-1]), seq[:-1]
        dwell_s = np.empty(n)
        for s, law in enumerate(params.dwell):
            mask = seq == s
            dwell_s[mask] = law.sample(rng, int(mask.sum()))
        # Whole picoseconds, at least 1 (no empty period), at most the acquisition (no int64 overflow).
        dwell_ps = np.clip(np.rint(dwell_s * PS_PER_S), 1, duration_ps).astype(np.int64)
        keep = min(int(np.searchsorted(np.cumsum(dwell_ps, dtype=np.float64), remaining_ps)) + 1, n)
        states.append(seq[:keep])
        lengths.append(dwell_ps[:keep])
        total_ps += int(dwell_ps[:keep].sum())
    length = np.concatenate(lengths)
    starts = np.concatenate(([0], np.cumsum(length)[:-1])).astype(np.int64)
    n_periods = int(np.searchsorted(starts, duration_ps, side="left"))
    return starts[:n_periods], np.concatenate(states)[:n_periods]


# --------------------------------------------------------------------------- photons


@dataclass(frozen=True)
class _Acquisition:
    duration_ps: int
    period_ps: int
    n_pulses: int
    offset_ps: float
    sigma_ps: float
    p_bright: float


def _signal_of_state(
    rng: np.random.Generator,
    acq: _Acquisition,
    p: float,
    lifetime_ns: float,
    first_k: I64Array,
    counts: I64Array,
) -> I64Array:
    """Arrival times (ps) of the photons from the periods of one state (first pulse, pulses of each)."""
    # The state's pulses laid end to end: Bernoulli(p) successes there, mapped back to pulse numbers.
    cum = np.concatenate(([0], np.cumsum(counts)))
    t = _bernoulli_indices(rng, p, int(cum[-1]))
    j = np.searchsorted(cum[1:], t, side="right")
    t -= cum[j]
    t += first_k[j]
    del j
    t *= acq.period_ps
    delay = rng.standard_normal(t.size)
    delay *= acq.sigma_ps
    delay += rng.exponential(lifetime_ns * 1e3, t.size)
    delay += acq.offset_ps
    t += np.floor(delay).astype(np.int64)
    return t


def _signal(
    rng: np.random.Generator,
    params: MultiLevelParams,
    acq: _Acquisition,
    starts: I64Array,
    period_state: I64Array,
) -> tuple[I64Array, npt.NDArray[np.int16]]:
    """Arrival times (ps) of the detected photons of the dot inside the acquisition, and their states."""
    off = round(acq.offset_ps)
    # First pulse of each period: k·P + off >= start, i.e. k = ceil((start − off)/P).
    first_k = np.clip(-((off - starts) // acq.period_ps), 0, acq.n_pulses)
    counts = np.diff(np.append(first_k, acq.n_pulses))
    times: list[I64Array] = []
    labels: list[npt.NDArray[np.int16]] = []
    for s, state in enumerate(params.states):
        p = acq.p_bright * state.brightness
        sel = np.flatnonzero(period_state == s)
        if p <= 0.0 or sel.size == 0:
            continue
        t = _signal_of_state(rng, acq, p, state.lifetime_ns, first_k[sel], counts[sel])
        # Photons of the last pulses can arrive after the end (and, with a wide IRF, of the first before 0).
        inside = (t >= 0) & (t < acq.duration_ps)
        times.append(t if inside.all() else t[inside])
        labels.append(np.full(times[-1].size, s, dtype=np.int16))
    if not times:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int16)
    return np.concatenate(times), np.concatenate(labels)


def _records(
    rng: np.random.Generator,
    acq: _Acquisition,
    signal: tuple[I64Array, npt.NDArray[np.int16]],
    background_cps: float,
    fraction_a: float,
    resolution_ps: int,
) -> tuple[T3Records, npt.NDArray[np.int16]]:
    """Signal plus background, split to A/B, time-sorted, as T3 records; and the state of each record."""
    t_sig, state_sig = signal
    del signal  # so that the signal arrays are freed once merged
    n_sig = t_sig.size
    n_bg = int(rng.poisson(background_cps * acq.duration_ps / PS_PER_S))
    t = np.concatenate((t_sig, rng.integers(0, acq.duration_ps, n_bg, dtype=np.int64)))
    del t_sig
    state = np.concatenate((state_sig, np.full(n_bg, -1, dtype=np.int16)))
    del state_sig
    a, b = np.uint8(CHANNEL_A), np.uint8(CHANNEL_B)
    channels = np.empty(t.size, dtype=np.uint8)
    channels[:n_sig] = np.where(rng.random(n_sig) < fraction_a, a, b)
    channels[n_sig:] = np.where(rng.random(n_bg) < 0.5, a, b)
    order = np.argsort(t, kind="stable")
    t = t[order]
    state, channels = state[order], channels[order]
    del order
    sync_index = t // acq.period_ps
    t -= sync_index * acq.period_ps
    t //= resolution_ps  # now the nanotime
    duration_s = acq.duration_ps / PS_PER_S
    return T3Records(sync_index, t, channels, acq.period_ps, resolution_ps, duration_s), state


def _check_acquisition(
    params: MultiLevelParams,
    duration_s: Any,
    repetition_rate_mhz: Any,
    bright_detection_per_pulse: Any,
    irf_offset_ps: Any,
    irf_sigma_ps: Any,
    nanotime_resolution_ps: Any,
) -> tuple[_Acquisition, int]:
    """The validated acquisition and resolution; refuses runs too large to hold in memory."""
    duration_s = _check_duration(duration_s)
    rate = check_real("repetition_rate_mhz", repetition_rate_mhz, 0.0, 1000.0, lo_open=True, unit="MHz")
    period_ps = round(1e6 / rate)
    p_bright = check_real("bright_detection_per_pulse", bright_detection_per_pulse, 0.0, 1.0, lo_open=True)
    offset = check_real("irf_offset_ps", irf_offset_ps, 0.0, period_ps, hi_open=True, unit="ps")
    sigma = check_real("irf_sigma_ps", irf_sigma_ps, 0.0, period_ps, unit="ps")
    res = check_int("nanotime_resolution_ps", nanotime_resolution_ps, 1, 1_000_000)
    if period_ps % res:
        fits = ", ".join(str(r) for r in (1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64) if period_ps % r == 0)
        raise InvalidValueError(
            f"the sync period ({period_ps} ps) must be a whole multiple of nanotime_resolution_ps ({res}); "
            f"choose a resolution that divides it (e.g. {fits} ps)"
        )
    duration_ps = round(duration_s * PS_PER_S)
    n_pulses = max(0, -(-(duration_ps - round(offset)) // period_ps))  # pulses at k·P + offset < duration
    expected_periods = duration_s / float(params.jump_fractions @ params.mean_dwell_s)
    if params.n_states > 1 and expected_periods > MAX_PERIODS:
        raise InvalidValueError(
            f"these dwell laws would give ~{expected_periods:.3g} periods in {duration_s:g} s (limit "
            f"{MAX_PERIODS:.0e}); simulate a shorter duration_s or use longer dwell times"
        )
    acq = _Acquisition(duration_ps, period_ps, n_pulses, offset, sigma, p_bright)
    return acq, res


def simulate_multilevel_t3(
    params: MultiLevelParams,
    *,
    duration_s: float,
    seed: int,
    repetition_rate_mhz: float = 20.0,
    bright_detection_per_pulse: float = 0.005,
    background_cps: float = 200.0,
    irf_sigma_ps: float = 50.0,
    nanotime_resolution_ps: int = 16,
    fraction_a: float = 0.5,
    irf_offset_ps: float = 1000.0,
) -> MultiLevelResult:
    """A pulsed T3 acquisition of a dot blinking between ``params.states``, with its truth.

    Sync k is at k·period (period = 1/``repetition_rate_mhz``, whole ps); its pulse
    reaches the dot ``irf_offset_ps`` later. Per pulse at most one detected photon,
    with probability ``bright_detection_per_pulse`` × the brightness of the state
    at that pulse, arriving after IRF offset + N(0, ``irf_sigma_ps``) + Exp(lifetime);
    it goes to detector A (channel 0) with probability ``fraction_a``, else B (1).
    Background: Poisson, ``background_cps`` in total, uniform in time, half to A and
    half to B. Records are sorted by arrival time (so by sync, then nanotime);
    nanotimes are floored to ``nanotime_resolution_ps``. Same seed → identical output.
    """
    _check_type("params", params, MultiLevelParams)
    seed = check_seed(seed)
    acq, res = _check_acquisition(
        params,
        duration_s,
        repetition_rate_mhz,
        bright_detection_per_pulse,
        irf_offset_ps,
        irf_sigma_ps,
        nanotime_resolution_ps,
    )
    background_cps = check_real("background_cps", background_cps, 0.0, 1e8, unit="cps")
    fraction_a = check_real("fraction_a", fraction_a, 0.0, 1.0)
    duration_s = acq.duration_ps / PS_PER_S
    brightness = np.array([s.brightness for s in params.states])
    _check_budget(acq.n_pulses * acq.p_bright * float(brightness.max()) + background_cps * duration_s)

    rng = np.random.default_rng(seed)
    starts, period_state = _draw_path(rng, params, acq.duration_ps)
    signal = _signal(rng, params, acq, starts, period_state)
    records, photon_state = _records(rng, acq, signal, background_cps, fraction_a, res)

    lengths = np.diff(np.append(starts, acq.duration_ps))
    state_fraction = np.bincount(period_state, weights=lengths, minlength=params.n_states) / acq.duration_ps
    signal_cps = acq.p_bright * brightness * PS_PER_S / acq.period_ps
    truth = MultiLevelTruth(
        params=params,
        duration_s=duration_s,
        sync_period_ps=acq.period_ps,
        n_pulses=acq.n_pulses,
        irf_offset_ps=acq.offset_ps,
        irf_sigma_ps=acq.sigma_ps,
        bright_detection_per_pulse=acq.p_bright,
        background_cps=background_cps,
        fraction_a=fraction_a,
        period_start_ps=starts,
        period_state=period_state,
        dwell_s=lengths / PS_PER_S,
        photon_state=photon_state,
        state_fraction=state_fraction,
        brightness=brightness,
        expected_rate_cps=signal_cps,
        expected_rate_with_background_cps=signal_cps + background_cps,
        lifetime_ns=np.array([s.lifetime_ns for s in params.states]),
        blinking_type=params.blinking_type,
    )
    return MultiLevelResult(records, truth)
