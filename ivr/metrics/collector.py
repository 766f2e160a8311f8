"""One application's metrics: a registry of its own, and the sources read at scrape time.

Each application has its own CollectorRegistry, never prometheus_client's global one: the tests start many
applications in one process, and a server's figures are its own. Figures that live elsewhere (the tracker's
calls, the queue state, a store's rows) are not copied into gauges as they change: a source is a function
read when Prometheus scrapes, so the figure is exactly the part's state at that moment.

The hook for the other parts (docs/operations.md, "Adding a metric"): `app[keys.METRICS].add(...)` for a
figure in memory, `app[keys.METRICS].add_database(...)` for a count the database answers. Database sources are
read together on one connection under a short timeout before each scrape; when the database is away they are
left out, `hotline_database_up` is 0 and the scrape still answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.db.engine import DATABASE_ERRORS

logger = logging.getLogger(__name__)

# A figure without labels, or label values (in the source's label order) → figure.
Samples = float | Mapping[tuple[str, ...], float]
Read = Callable[[], Samples]
Query = Callable[[AsyncConnection], Awaitable[Samples]]
Kind = Literal["gauge", "counter"]


class DuplicateMetric(ValueError):
    """Two sources were registered under the same metric name."""


@dataclass(frozen=True)
class Source:
    name: str
    documentation: str
    labels: tuple[str, ...] = ()
    kind: Kind = "gauge"

    def family(self, samples: Samples) -> Metric:
        family_type = GaugeMetricFamily if self.kind == "gauge" else CounterMetricFamily
        family = family_type(self.name, self.documentation, labels=list(self.labels))
        for values, value in (samples.items() if isinstance(samples, Mapping) else [((), samples)]):
            family.add_metric(list(values), float(value))
        return family


class Metrics:
    def __init__(self, database_timeout: float = 2.0) -> None:
        self.database_timeout = database_timeout
        self.registry = CollectorRegistry(auto_describe=True)
        self._names: set[str] = set()
        self._live: list[tuple[Source, Read]] = []
        self._queries: list[tuple[Source, Query]] = []
        self._engine: AsyncEngine | None = None
        self._from_database: list[Metric] = []
        self.database_up: bool | None = None  # None until the first scrape reads it
        # Before the counters: an error counted while the sources are read shows in the same scrape.
        self.registry.register(_Sources(self))
        self.calls_finished = self.counter(
            "hotline_calls_finished", "Calls ended since the server started, by final outcome", ("outcome",))
        self.log_errors = self.counter(
            "hotline_log_errors", "Log records at ERROR or above since the server started, by logger", ("logger",))
        self.scrape_errors = self.counter(
            "hotline_scrape_errors", "Parts of a scrape that could not be read (database, or a source's name)",
            ("part",))

    def counter(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
        """A counter this application increments itself (exposed as `<name>_total`)."""
        self._claim(name)
        return Counter(name, documentation, labels, registry=self.registry)

    def add(self, name: str, documentation: str, read: Read, labels: tuple[str, ...] = (),
            kind: Kind = "gauge") -> None:
        """`read()` is called at each scrape; for a counter it returns a total that only grows."""
        self._claim(name)
        self._live.append((Source(name, documentation, labels, kind), read))

    def add_database(self, name: str, documentation: str, query: Query, labels: tuple[str, ...] = (),
                     kind: Kind = "gauge") -> None:
        """`query(connection)` is awaited before each scrape, with the other database sources."""
        self._claim(name)
        self._queries.append((Source(name, documentation, labels, kind), query))

    def use_database(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def scrape(self) -> bytes:
        """The text exposition format (version 0.0.4) of everything registered."""
        await self._read_database()
        return generate_latest(self.registry)

    def _claim(self, name: str) -> None:
        if name in self._names:
            raise DuplicateMetric(f"metric {name!r} is already registered")
        self._names.add(name)

    async def _read_database(self) -> None:
        if self._engine is None or not self._queries:
            return
        try:
            async with asyncio.timeout(self.database_timeout), self._engine.connect() as connection:
                families = [source.family(await query(connection)) for source, query in self._queries]
        except Exception as exc:  # whatever the database (or its driver) raises, the scrape answers
            self._from_database = []
            self.scrape_errors.labels("database").inc()
            self._database_state(False, exc)
            return
        self._from_database = families
        self._database_state(True)

    def _database_state(self, up: bool, exc: BaseException | None = None) -> None:
        if exc is not None and not isinstance(exc, DATABASE_ERRORS):
            logger.error("metrics: a database source failed", exc_info=exc)
        elif not up and self.database_up is not False:
            logger.warning("metrics: database unavailable, its counts left out: %s: %s", type(exc).__name__, exc)
        elif up and self.database_up is False:
            logger.info("metrics: database back")
        self.database_up = up

    def collect(self) -> Iterator[Metric]:
        """The sources' families, read now (called by the registry at each scrape)."""
        for source, read in self._live:
            try:
                samples = read()
            except Exception:  # a bug in one source must not take the whole scrape down
                logger.exception("metrics: source %s failed", source.name)
                self.scrape_errors.labels(source.name).inc()
                continue
            yield source.family(samples)
        if self._engine is not None and self._queries:
            yield Source("hotline_database_up", "1 when the last scrape read the database, 0 when it could "
                         "not (its counts are then left out)").family(float(bool(self.database_up)))
            yield from self._from_database


class _Sources:
    """The registry's view of the sources: read at each scrape, never described in advance (their label
    values change), so the registry does not call collect() at registration."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        return self.metrics.collect()
