"""Several metrics on one chart: which charts are merged, and where a merged chart stands.

Plain Python. A merged chart's id is its metrics joined by ` + ` (what its title shows); its
members are kept as a tuple, so a metric name with a `+` in it never splits wrongly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

JOIN = " + "


@dataclass
class ChartMerges:
    groups: list[tuple[str, ...]] = field(default_factory=list)

    def _by_id(self) -> dict[str, tuple[str, ...]]:
        return {JOIN.join(group): group for group in self.groups}

    def members(self, chart: str) -> tuple[str, ...]:
        """The metrics a chart draws: a merged chart's members, else the metric itself."""
        return self._by_id().get(chart, (chart,))

    def is_merged(self, chart: str) -> bool:
        return chart in self._by_id()

    def apply(self, ordered: Sequence[str]) -> list[str]:
        """The charts for metrics in this order: a merged chart stands where its first present
        member would, and its other members have no chart of their own."""
        owner = {key: JOIN.join(group) for group in self.groups for key in group}
        out: list[str] = []
        placed: set[str] = set()
        for key in ordered:
            chart = owner.get(key, key)
            if chart not in placed:
                placed.add(chart)
                out.append(chart)
        return out

    def merge(self, charts: Iterable[str]) -> str | None:
        """One chart of these charts' metrics (merged charts among them are taken apart first);
        returns its id, None when fewer than two metrics are left."""
        members: list[str] = []
        for chart in charts:
            members += [key for key in self.members(chart) if key not in members]
        if len(members) < 2:
            return None
        self.groups = [group for group in self.groups if not set(group) & set(members)]
        self.groups.append(tuple(members))
        return JOIN.join(members)

    def split(self, chart: str) -> tuple[str, ...] | None:
        """Back to one chart a metric; returns the members, None when `chart` is not merged."""
        group = self._by_id().get(chart)
        if group is None:
            return None
        self.groups.remove(group)
        return group
