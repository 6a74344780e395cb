"""One data-access layer over SQLite (embedded default) and PostgreSQL (production)."""

from hub.store.repository import CaseEffect, Delivery, Store

__all__ = ["CaseEffect", "Delivery", "Store"]
