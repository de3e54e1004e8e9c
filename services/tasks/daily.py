"""Daily reconciliation task: compare each provider's report for past Tokyo days with the ledger."""

from __future__ import annotations

import logging

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
