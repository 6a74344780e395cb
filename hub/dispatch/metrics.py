"""Prometheus metrics of the dispatcher, per channel and per recipient system: attempts by outcome
(this instance's), and the backlog, its age and unreachable recipients (the store's, shared by all
instances, as last read by this one)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.dispatch.engine import Dispatcher

LABELS = ["channel", "recipient"]


class DispatchCollector(Collector):
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def collect(self) -> Iterator[Metric]:
        attempts = CounterMetricFamily(
            "hub_dispatch_attempts", "delivery attempts by this instance, by outcome", labels=[*LABELS, "outcome"]
        )
        for (channel, recipient, outcome), n in sorted(self.dispatcher.counts.items()):
            attempts.add_metric([channel, recipient, outcome], n)
        yield attempts
        backlog = GaugeMetricFamily("hub_dispatch_backlog", "records waiting for their recipient", labels=LABELS)
        oldest = GaugeMetricFamily(
            "hub_dispatch_oldest_pending_seconds", "age of the oldest record waiting", labels=LABELS
        )
        dead = GaugeMetricFamily("hub_dispatch_dead_lettered", "records given up on, until redriven", labels=LABELS)
        down = GaugeMetricFamily(
            "hub_dispatch_recipient_unreachable",
            "1 while a recipient has been unreachable longer than HUB_DISPATCH__ALERT_AFTER_SECONDS",
            labels=LABELS,
        )
        now = time.time()
        for row in self.dispatcher.backlog:
            labels = [row["channel"], row["recipient"]]
            backlog.add_metric(labels, row["pending"])
            since = row["oldest_pending"]
            oldest.add_metric(labels, max(now - since.timestamp(), 0.0) if since else 0.0)
            dead.add_metric(labels, row["dead"])
            down.add_metric(labels, 1.0 if row["unreachable_alert"] else 0.0)
        yield from (backlog, oldest, dead, down)
