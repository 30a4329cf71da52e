"""Setups: the instruments, with what is plugged into each time-tagger input."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from qdcat.catalog._base import CatalogBase, columns_of
from qdcat.catalog._parse import parse_enum, parse_float, parse_name
from qdcat.catalog.models import ChannelRole, Setup, SetupChannel
from qdcat.catalog.records import ChannelRecord, SetupRecord, SetupSummary
from qdcat.errors import AlreadyExistsError, InvalidValueError

#: What ``add_setup(channels=...)`` takes per time-tagger input: a role, or (role, detector).
ChannelSpec = ChannelRole | str | tuple[ChannelRole | str, str | None]


class SetupsMixin(CatalogBase):
    """Setups and their channels."""

    def add_setup(
        self,
        name: str,
        *,
        channels: Mapping[int, ChannelSpec] | None = None,
        time_tagger_model: str | None = None,
        time_tagger_resolution_ps: float | None = None,
        spectrometer: str | None = None,
        description: str | None = None,
        ccd_offset_counts: float | None = None,
        ccd_read_noise_counts: float | None = None,
        dark_count_rate_cps: Mapping[int, float] | None = None,
        timing_jitter_ps: Mapping[int, float] | None = None,
    ) -> SetupRecord:
        """Register an instrument; ``channels`` maps time-tagger input → role (and detector).

        Facts the analyses use when they are known: the CCD's electronic offset and
        read noise (the spectrum fit's noise model), and per channel the detector's
        dark count rate (the blinking off level without a background measurement)
        and timing jitter (FWHM).
        """
        name = parse_name(name, "setup name")
        chans = _parse_channels(channels, dark_count_rate_cps, timing_jitter_ps)
        with self.session() as s:
            if s.scalar(select(Setup.id).where(Setup.name == name)) is not None:
                raise AlreadyExistsError(f"setup {name!r} already exists")
            obj = Setup(
                name=name,
                description=description,
                time_tagger_model=time_tagger_model,
                time_tagger_resolution_ps=parse_float(
                    time_tagger_resolution_ps, "time_tagger_resolution_ps", positive=True
                ),
                spectrometer=spectrometer,
                ccd_offset_counts=parse_float(ccd_offset_counts, "ccd_offset_counts"),
                ccd_read_noise_counts=parse_float(
                    ccd_read_noise_counts, "ccd_read_noise_counts", nonnegative=True
                ),
                channels=chans,
            )
            s.add(obj)
            self._flush_unique(s, f"setup {name!r}")
            return self._setup_record(obj)

    @staticmethod
    def _setup_record(obj: Setup) -> SetupRecord:
        return SetupRecord(
            **columns_of(obj, SetupRecord),
            channels={c.channel: ChannelRecord(**columns_of(c, ChannelRecord)) for c in obj.channels},
        )

    def list_setups(self) -> list[SetupSummary]:
        with self.session() as s:
            setups = s.scalars(select(Setup).options(selectinload(Setup.channels)).order_by(Setup.name)).all()
            return [
                SetupSummary(
                    **columns_of(st, SetupSummary), channels={c.channel: c.role for c in st.channels}
                )
                for st in setups
            ]

    def get_setup(self, name: str) -> SetupRecord:
        with self.session() as s:
            return self._setup_record(self._get_setup(s, name))

    def channel_roles(self, setup: str) -> dict[int, ChannelRole]:
        """Time-tagger input → role for a setup (ingest maps channels with it)."""
        with self.session() as s:
            return {c.channel: c.role for c in self._get_setup(s, setup).channels}


def _parse_channels(
    channels: Mapping[int, ChannelSpec] | None,
    dark_count_rate_cps: Mapping[int, float] | None,
    timing_jitter_ps: Mapping[int, float] | None,
) -> list[SetupChannel]:
    """The setup's channel rows, each input and role checked, with the detector facts given."""
    chans: list[SetupChannel] = []
    roles: dict[ChannelRole, int] = {}
    for ch, spec in sorted((channels or {}).items()):
        try:
            ch_i = int(ch)
        except (TypeError, ValueError):
            raise InvalidValueError(f"channel {ch!r} must be an integer 0–255") from None
        if not 0 <= ch_i <= 255:
            raise InvalidValueError(f"channel {ch_i} must lie in 0–255")
        role_raw, detector = spec if isinstance(spec, tuple) else (spec, None)
        role = parse_enum(ChannelRole, role_raw, f"role of channel {ch_i}")
        # Several detectors may share an HBT arm (every channel of a role feeds the
        # analyses); one laser sync is all a time tagger records.
        if role is ChannelRole.SYNC and role in roles:
            raise InvalidValueError(
                f"channels {roles[role]} and {ch_i} are both sync; a setup has one sync channel"
            )
        roles[role] = ch_i
        chans.append(
            SetupChannel(
                channel=ch_i,
                role=role,
                detector=detector,
                dark_count_rate_cps=parse_float(
                    (dark_count_rate_cps or {}).get(ch_i),
                    f"dark count rate of channel {ch_i}",
                    nonnegative=True,
                ),
                timing_jitter_ps=parse_float(
                    (timing_jitter_ps or {}).get(ch_i),
                    f"timing jitter of channel {ch_i}",
                    nonnegative=True,
                ),
            )
        )
    for what, per in (("dark count rate", dark_count_rate_cps), ("timing jitter", timing_jitter_ps)):
        unknown = sorted(set(map(int, per or {})) - {c.channel for c in chans})
        if unknown:
            raise InvalidValueError(f"{what} given for channel(s) {unknown} that the setup does not map")
    return chans
