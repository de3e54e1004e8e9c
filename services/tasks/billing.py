"""Money tasks: the billing run's drafts and issue (long, so in a worker, never in a screen's request), the
daily schedule of last month's run and of plan changes and catalogue versions that start today, and the
dunning round."""

from __future__ import annotations

import logging

from services.billing import billing_runs, dunning, plan_changes
from services.ledger import catalogue
from services.tasks.celery_app import app

log = logging.getLogger(__name__)

RUN_TIME_LIMIT_SECONDS = 60 * 60  # a run of a few hundred thousand contracts takes minutes, not an hour


@app.task(name=billing_runs.DRAFT_TASK, ignore_result=True, acks_late=True,
          time_limit=RUN_TIME_LIMIT_SECONDS, soft_time_limit=RUN_TIME_LIMIT_SECONDS - 60)
def draft_billing_run(run_id: int) -> str:
    """Make a run's drafts (resumes where it stopped; a second delivery does only what is left)."""
    return billing_runs.draft_run(run_id).status


@app.task(name=billing_runs.ISSUE_TASK, ignore_result=True, acks_late=True,
          time_limit=RUN_TIME_LIMIT_SECONDS, soft_time_limit=RUN_TIME_LIMIT_SECONDS - 60)
def issue_billing_run(run_id: int) -> str:
    """Issue a reviewed run's drafts and tell the customers (a second delivery issues only what is left)."""
    run = billing_runs.issue_drafts(run_id)
    return run.status if run else "missing"


@app.task(name="telecom.billing_daily", ignore_result=True)
def billing_daily() -> dict[str, int]:
    """Once a day: today's catalogue versions take over, plan changes for today reach the carrier, and last
    month's billing run is asked for (its issue stays a person's decision)."""
    done = {"catalogue": catalogue.refresh_catalogue(), "plan_changes": plan_changes.apply_due_plan_changes(),
            "run_requested": int(billing_runs.schedule_monthly_run() is not None)}
    log.info("billing daily: %s", done)
    return done


@app.task(name="telecom.dunning", ignore_result=True)
def dunning_round() -> dict[str, int]:
    """Open cases for overdue invoices, take the steps that are due, resume what was paid."""
    counts = dunning.advance()
    if any(v for v in counts.values()):
        log.info("dunning: %s", counts)
    return counts
