"""Analysis parameters kept per measurement, with history.

The catalog stores them as given; whether they are valid parameters of the analysis is
checked by :func:`qdcat.workflow.set_params` (the catalog knows no analyses).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select

from qdcat.catalog._base import CatalogBase
from qdcat.catalog._parse import parse_id, parse_name
from qdcat.catalog.models import MeasurementParams
from qdcat.errors import NotFoundError


class ParamsMixin(CatalogBase):
    """Per-measurement analysis parameters."""

    def store_params(
        self, measurement_id: int, analysis: str, params: Mapping[str, Any], *, reason: str | None = None
    ) -> dict[str, Any]:
        """Keep ``params`` for this measurement's runs of ``analysis`` (merged into what is kept)."""
        mid = parse_id(measurement_id, "measurement")
        name = parse_name(analysis, "analysis", 64)
        with self.session() as s:
            self._get_measurement(s, mid)
            row = s.get(MeasurementParams, (mid, name))
            old = dict(row.params) if row is not None else {}
            new = {**old, **params}
            if row is None:
                s.add(MeasurementParams(measurement_id=mid, analysis=name, params=new, who=self.user))
            else:
                row.params, row.who = new, self.user
            for k in params:
                if old.get(k) != new[k]:
                    label = f"measurement {mid}"
                    self._audit(
                        s,
                        "update",
                        "measurement",
                        mid,
                        label,
                        field=f"{name}.{k}",
                        old=old.get(k),
                        new=new[k],
                        reason=reason,
                    )
            return new

    def clear_params(
        self, measurement_id: int, analysis: str | None = None, *, reason: str | None = None
    ) -> int:
        """Forget the kept parameters (of one analysis, or all); returns how many sets were removed."""
        mid = parse_id(measurement_id, "measurement")
        with self.session() as s:
            self._get_measurement(s, mid)
            q = select(MeasurementParams).where(MeasurementParams.measurement_id == mid)
            if analysis is not None:
                q = q.where(MeasurementParams.analysis == analysis)
            rows = list(s.scalars(q))
            if not rows:
                raise NotFoundError(
                    f"measurement {mid} keeps no parameters{f' for {analysis}' if analysis else ''}"
                )
            for r in rows:
                self._audit(
                    s,
                    "update",
                    "measurement",
                    mid,
                    f"measurement {mid}",
                    field=f"{r.analysis}.*",
                    old=r.params,
                    reason=reason,
                )
                s.execute(
                    delete(MeasurementParams).where(
                        MeasurementParams.measurement_id == mid, MeasurementParams.analysis == r.analysis
                    )
                )
            return len(rows)

    def kept_params(
        self, *, measurement_id: int | None = None, analysis: str | None = None
    ) -> dict[tuple[int, str], dict[str, Any]]:
        """(measurement id, analysis) → kept parameters."""
        q = select(MeasurementParams)
        if measurement_id is not None:
            q = q.where(MeasurementParams.measurement_id == parse_id(measurement_id, "measurement"))
        if analysis is not None:
            q = q.where(MeasurementParams.analysis == analysis)
        with self.session() as s:
            return {(r.measurement_id, r.analysis): dict(r.params) for r in s.scalars(q)}
