"""Daily reconciliation task: compare each provider's report for past Tokyo days with the ledger.

Beat runs it hourly (a completed day is skipped); a worker also queues one round when it starts, so
a machine that was off catches up at once instead of an hour later. A comparison a person queues
from the review screen (再突合) runs as its own task. After a carrier line report is read, the data
caps are enforced on its usage (services.ledger.usage_caps) and the lines at 80% or 100% of their cap are told
(services.ledger.usage_notices). Once a day the 本人確認記録 past their retention
date are deleted (services.ledger.kyc_records).
"""

from __future__ import annotations

import logging
from datetime import date

from celery.signals import worker_ready

from services.ledger import kyc_records, usage_caps, usage_notices
from services.tasks.celery_app import app
from services.workflow import daily_reconciliation

log = logging.getLogger(__name__)


# A report of a million lines takes about 15 s to compare; a round may catch up a week of three sources.
ROUND_TIME_LIMIT_SECONDS = 30 * 60


@app.task(name="telecom.daily_reconciliation", ignore_result=True,
          time_limit=ROUND_TIME_LIMIT_SECONDS, soft_time_limit=ROUND_TIME_LIMIT_SECONDS - 60)
def daily_reconciliation_round() -> dict[str, str]:
    """Run every source's comparison that is due (yesterday, and failed days of the past week)."""
    results = daily_reconciliation.run_due()
    if results:
        log.info("daily reconciliation: %s", results)
    _enforce_caps_after(results)
    return results


@app.task(name="telecom.run_reconciliation", ignore_result=True, acks_late=True,
          time_limit=ROUND_TIME_LIMIT_SECONDS, soft_time_limit=ROUND_TIME_LIMIT_SECONDS - 60)
def run_reconciliation(source: str, business_date: str) -> str:
    """Run a comparison a person queued (再突合); a second delivery of the same task changes nothing."""
    run = daily_reconciliation.run(source, date.fromisoformat(business_date), queued_only=True)
    if run is None:
        return "not queued"
    _enforce_caps_after({f"{source}:{business_date}": run.status})
    return run.status


def _enforce_caps_after(results: dict[str, str]) -> None:
    """New usage came with a completed carrier line report: throttle (or release) the lines it concerns."""
    if any(key.startswith("carrier_lines:") and status == "completed" for key, status in results.items()):
        log.info("data caps: %s", usage_caps.enforce())
        log.info("data-use notices (80%% / 100%% of the cap): %s", usage_notices.send_due())


@worker_ready.connect
def _catch_up_on_start(**_kwargs) -> None:
    """Queue one round as soon as a worker is ready (idempotent: completed days are skipped)."""
    daily_reconciliation_round.delay()


@app.task(name="telecom.kyc_retention", ignore_result=True)
def kyc_retention() -> int:
    """Delete the 本人確認記録 kept past their date (3 years after the contract ended); each is audited."""
    deleted = kyc_records.purge_expired()
    if deleted:
        log.info("kyc records past their retention date deleted: %s", deleted)
    return len(deleted)
