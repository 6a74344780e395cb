"""How the hub sets Python's cyclic garbage collector for a long-running process.

Routing an event allocates a few hundred short-lived containers. With the interpreter's default
thresholds (a young collection every 700 allocations, an older one every ten of those) the
collector ran several times per event and, with a large store's worth of objects alive, took a
quarter of the router's CPU and paused the event loop for a full collection now and then.
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # allocations between young collections: a few hundred events' worth
MIDDLE, OLD = 20, 100  # young collections per middle one, middle collections per full one


def settle_collector() -> None:
    """Take what exists now (modules, schemas, FHIR models, the settings) out of the collector's
    view, since it lives as long as the process, and collect less often: a full collection then
    scans only what the work itself creates."""
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
