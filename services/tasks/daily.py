"""Daily reconciliation task: compare each provider's report for past Tokyo days with the ledger.

Beat runs it hourly (a completed day is skipped); a worker also queues one round when it starts, so
a machine that was off catches up at once instead of an hour later.
"""

from __future__ import annotations

import logging

from celery.signals import worker_ready

from services import daily_reconciliation
from services.tasks.celery_app import app

log = logging.getLogger(__name__)


@app.task(name="telecom.daily_reconciliation", ignore_result=True)
def daily_reconciliation_round() -> dict[str, str]:
    """Run every source's comparison that is due (yesterday, and failed days of the past week)."""
    results = daily_reconciliation.run_due()
    if results:
        log.info("daily reconciliation: %s", results)
    return results


@worker_ready.connect
def _catch_up_on_start(**_kwargs) -> None:
    """Queue one round as soon as a worker is ready (idempotent: completed days are skipped)."""
    daily_reconciliation_round.delay()
