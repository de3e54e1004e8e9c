"""The chaos run: many carrier and payment operations through the real outbox while everything fails.

One running mode at a time (embedded: SQLite ledger + SQLite broker; scale-out: PostgreSQL + Redis):
Celery workers and beat in their own processes, the carrier and payment sandboxes answering 5xx to
`error_rate` of the calls and committing-then-timing-out `timeout_rate` of them, webhooks duplicated
and re-ordered, one worker killed with SIGKILL part-way and the broker restarted (its queued
messages lost) later. Staff actions go through the services as on screen: activation, suspension
and resumption through approvals, card charges of issued invoices.

At the end the run checks the promises of the outbox and reports the figures:
- no operation lost: every requested operation has its outbox row and none is left pending / in flight;
- no webhook lost: every event the sandbox delivered is stored once and processed;
- at most one effect per idempotency key at the carrier and at the gateway (duplicated = 0);
- every line's ledger state equals the carrier's, or the line sits in the review queue with a reason.

Used by tests/integration/test_chaos.py (a few minutes) and scripts/bench_chaos.py (`make bench`).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, text
from sqlmodel import col, select

import services.registry  # noqa: F401  (the webhooks the run receives are applied in this process too)
from sandbox.testing import SandboxProcess
from services.billing import card_payments
from services.ledger import lines
from services.models import (
    ExternalAttempt,
    ExternalOperation,
    InboundEvent,
    Invoice,
    Line,
    Payment,
    PaymentAllocation,
    ReviewItem,
)
from services.platform import installation_secrets
from services.platform.config import PROJECT_ROOT
from services.platform.db import make_engine, read_session, use_engine
from services.platform.errors import DomainError
from services.platform.identifiers import customer_code
from services.platform.permissions import Role
from services.workflow import approvals
from tests.conftest import make_actor
from tests.stack import CeleryProcess, WebhookEndpoint, queue_tasks_on
from tests.unit.builders import World

SETTLED_LINE_STATES = {"active", "suspended"}
LIVE_OPERATION_STATES = ("pending", "in_flight")
WORKER_ENV = {
    "TELECOM_CARRIER_READ_TIMEOUT_SECONDS": "1",
    "TELECOM_OUTBOX_MAX_ATTEMPTS": "5",
    "TELECOM_OUTBOX_BACKOFF_BASE_SECONDS": "0.2",
    "TELECOM_OUTBOX_BACKOFF_CAP_SECONDS": "2",
    "TELECOM_OUTBOX_STALE_IN_FLIGHT_SECONDS": "10",
    "TELECOM_OUTBOX_LEASE_SECONDS": "5",
    "TELECOM_INBOUND_STALLED_SECONDS": "5",
    "TELECOM_RELAY_INTERVAL_SECONDS": "0.5",
    "TELECOM_RECONCILE_INTERVAL_SECONDS": "2",
}


@dataclass
class ChaosPlan:
    """How big and how hostile a run is."""

    lines: int = 100
    rounds: int = 8  # carrier operations per line: activate, then suspend / resume in turn
    charges: int = 200  # card charges, one per issued invoice
    error_rate: float = 0.2
    timeout_rate: float = 0.05
    workers: int = 2
    concurrency: int = 4
    kill_worker_at: float = 0.3  # share of the operations requested when a worker is SIGKILLed
    restart_broker_at: float = 0.6  # ... and when the broker is restarted
    seed: int = 7
    deadline_seconds: float = 900

    @property
    def operations(self) -> int:
        """Operations the run will request."""
        return self.lines * self.rounds + self.charges


@dataclass
class ChaosReport:
    """What happened, and whether the promises held."""

    mode: str
    operations: int = 0
    not_requested: int = 0  # planned operations of lines that went to the review queue first
    carrier_operations: int = 0
    charges: int = 0
    attempts: int = 0
    retries: int = 0
    unknown_attempts: int = 0
    unknown_operations: int = 0
    reconciled: int = 0
    queued_for_review: int = 0
    lines_in_review: int = 0
    lost_operations: int = 0
    lost_webhooks: int = 0
    webhooks_delivered: int = 0
    webhooks_undelivered: int = 0  # the sandbox gave up delivering (our endpoint never answered 2xx)
    duplicated_effects: int = 0
    line_disagreements: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0
    events: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """Operations per second, from the first request until everything settled."""
        return self.operations / self.elapsed_seconds if self.elapsed_seconds else 0.0

    @property
    def ok(self) -> bool:
        """True when nothing was lost, nothing happened twice and every line agrees or is in review."""
        return (self.lost_operations == 0 and self.lost_webhooks == 0 and self.duplicated_effects == 0
                and not self.line_disagreements)

    def summary(self) -> str:
        """The figures, one per line."""
        return "\n".join([
            f"chaos run — {self.mode}",
            f"  operations            {self.operations} ({self.carrier_operations} carrier, {self.charges} charges;"
            f" {self.not_requested} not requested: their line was in review)",
            f"  attempts / retries    {self.attempts} / {self.retries}",
            f"  UNKNOWN attempts      {self.unknown_attempts}",
            f"  UNKNOWN operations    {self.unknown_operations}",
            f"  reconciled            {self.reconciled}",
            f"  queued for review     {self.queued_for_review} (lines in review: {self.lines_in_review})",
            f"  webhooks delivered    {self.webhooks_delivered} (undelivered by the provider: "
            f"{self.webhooks_undelivered})",
            f"  lost operations       {self.lost_operations}",
            f"  lost webhooks         {self.lost_webhooks}",
            f"  duplicated effects    {self.duplicated_effects}",
            f"  line disagreements    {len(self.line_disagreements)}",
            f"  elapsed               {self.elapsed_seconds:.1f} s",
            f"  throughput            {self.throughput:.1f} operations/s",
            *(f"  event: {event}" for event in self.events),
        ])


class ChaosRun:
    """One run on one running mode; `run()` returns the report."""

    def __init__(self, mode: str, *, database_url: str, broker_url: str, workdir: Path,
                 restart_broker: Callable[[], None], plan: ChaosPlan | None = None):
        self.mode, self.database_url, self.broker_url, self.workdir = mode, database_url, broker_url, workdir
        self.restart_broker, self.plan = restart_broker, plan or ChaosPlan()
        self.report = ChaosReport(mode)
        self.rng = random.Random(self.plan.seed)
        self.processes: list[CeleryProcess] = []
        self.spawned = 0

    # -- the running system --

    def _env(self, sandbox: SandboxProcess) -> dict[str, str]:
        return {**os.environ, **WORKER_ENV, "PYTHONPATH": str(PROJECT_ROOT),
                "TELECOM_DATABASE_URL": self.database_url, "TELECOM_BROKER_URL": self.broker_url,
                "TELECOM_CARRIER_URL": sandbox.url("carrier"), "TELECOM_PAYMENT_URL": sandbox.url("payment")}

    def _worker(self, env: dict[str, str]) -> CeleryProcess:
        self.spawned += 1
        worker = CeleryProcess(["worker", "--pool=threads", f"--concurrency={self.plan.concurrency}",
                                "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
                                "-n", f"chaos{self.spawned}@%h"],
                               env, self.workdir / f"worker{self.spawned}.log", "ready.")
        return worker

    def run(self) -> ChaosReport:
        """Set up, drive, let everything settle, check; always stops what it started."""
        from tests.integration.test_migrations import _upgrade

        _upgrade(self.database_url)
        engine = make_engine(self.database_url)
        use_engine(engine)
        previous_broker = queue_tasks_on(self.broker_url)  # webhooks received here: processed via the run's broker
        endpoint = WebhookEndpoint()
        sandbox = SandboxProcess(only=["carrier", "payment"], webhook_base=endpoint.base,
                                 secrets_file=installation_secrets.secrets_file()).start()
        try:
            self.env = self._env(sandbox)
            self.processes = [self._worker(self.env)]
            self.processes[0].wait_ready()  # it creates the SQL broker's queue: two workers at once can collide on it
            self.processes += [self._worker(self.env) for _ in range(self.plan.workers - 1)]
            self.beat = CeleryProcess(["beat", "--loglevel=INFO", "-s", str(self.workdir / "beat-schedule")],
                                      self.env, self.workdir / "beat.log", "beat: Starting")
            self.processes.append(self.beat)
            for process in self.processes:
                process.wait_ready()
            self._drive(sandbox)
            self._check(sandbox)
        finally:
            for process in reversed(self.processes):
                process.stop()
            self.processes = []
            sandbox.stop()
            endpoint.close()
            queue_tasks_on(previous_broker)
            use_engine(None)
            engine.dispose()
        return self.report

    # -- driving --

    def _supervise(self) -> None:
        """Restart a worker or beat that exited on its own, as systemd (Restart=always) does in production."""
        for index, process in enumerate(self.processes):
            code = process.proc.poll()
            if code is None:
                continue
            process.stop()
            if process is self.beat:
                replacement = CeleryProcess(["beat", "--loglevel=INFO", "-s", str(self.workdir / "beat-schedule")],
                                            self.env, self.workdir / "beat.log", "beat: Starting")
                self.beat = replacement
            else:
                replacement = self._worker(self.env)
            self.processes[index] = replacement
            replacement.wait_ready()
            self.report.events.append(f"{process.log.name}: exited with code {code}; restarted by the supervisor")

    def _drive(self, sandbox: SandboxProcess) -> None:
        plan = self.plan
        world = World(make_actor(Role.ADMIN, None, "chaos@test"))
        maker, checker = world.actor("support"), world.actor("admin")
        created = [world.line() for _ in range(plan.lines)]
        self.msisdns = {line.id: line.msisdn.lstrip("+") for line in created}
        self.invoices = [world.invoice(unit_price=1000 + i).id for i in range(plan.charges)]
        for provider in ("carrier", "payment"):
            sandbox.reset(provider, seed=plan.seed)
            sandbox.faults(provider, error_rate=plan.error_rate, timeout_after_commit_rate=plan.timeout_rate,
                           duplicate_webhooks=True, reorder_webhooks=True, seed=plan.seed)
        script = {line_id: ["activate"] + ["suspend", "resume"] * plan.rounds for line_id in self.msisdns}
        for line_id in script:
            script[line_id] = script[line_id][:plan.rounds]
        pending_charges = list(self.invoices)
        requested = 0
        killed = restarted = False
        started = time.monotonic()
        deadline = started + plan.deadline_seconds
        while True:
            idle = self._idle_lines()
            for line_id in idle:
                if script[line_id]:
                    if self._request(line_id, script[line_id][0], world, maker, checker):
                        script[line_id].pop(0)
                        requested += 1
            for _ in range(min(len(pending_charges), 1 + len(idle) // 4)):
                try:
                    card_payments.charge_invoice(pending_charges[-1], actor=world.admin)
                except DomainError:
                    break  # e.g. the ledger is busy: try again next round
                pending_charges.pop()
                requested += 1
            if not killed and requested >= plan.kill_worker_at * plan.operations:
                victim = self.processes[0]
                victim.kill()
                self.report.events.append(f"SIGKILL {victim.log.name} after {requested} operations")
                killed = True
            self._supervise()
            if not restarted and requested >= plan.restart_broker_at * plan.operations:
                self.restart_broker()
                self.report.events.append(f"broker restarted after {requested} operations (queued messages lost)")
                restarted = True
            remaining = sum(len(ops) for ops in script.values()) + len(pending_charges)
            if remaining == 0 or all(not ops or line_id in self._in_review() for line_id, ops in script.items()
                                     ) and not pending_charges:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"chaos run: {remaining} operations never became possible\n{self._tails()}")
            time.sleep(0.1)
        self.report.not_requested = sum(len(ops) for ops in script.values())  # lines left in the review queue
        self.report.events.append(f"{requested} operations requested in {time.monotonic() - started:.1f} s")
        self._settle(deadline)
        self.report.elapsed_seconds = time.monotonic() - started
        for provider in ("carrier", "payment"):
            sandbox.faults(provider, error_rate=0, timeout_after_commit_rate=0)

    def _request(self, line_id: int, operation: str, world: World, maker, checker) -> bool:
        """Ask for one carrier operation as staff would; False when the line cannot take it right now."""
        try:
            if operation == "activate":
                lines.change_line_status(line_id, actor=world.admin, event="activate", reason="開通")
            else:
                request = approvals.request_approval(f"line.{operation}", {"line_id": line_id}, actor=maker,
                                                     reason="カオス試験", confirm_repeat=True)
                approvals.approve_request(request.id, actor=checker, expected_hash=request.params_hash)
        except DomainError:
            return False
        return True

    def _idle_lines(self) -> list[int]:
        """Lines in a settled state with no live operation: ready for the next one."""
        with read_session() as s:
            busy = set(s.exec(select(ExternalOperation.line_id).where(
                col(ExternalOperation.status).in_(LIVE_OPERATION_STATES),
                col(ExternalOperation.line_id).is_not(None))).all())
            rows = s.exec(select(Line.id, Line.status).where(col(Line.id).in_(list(self.msisdns)))).all()
        idle = [line_id for line_id, status in rows if status in SETTLED_LINE_STATES | {"applying"}
                and line_id not in busy]
        self.rng.shuffle(idle)
        return idle

    def _in_review(self) -> set[int]:
        with read_session() as s:
            return set(s.exec(select(Line.id).where(col(Line.id).in_(list(self.msisdns)),
                                                    col(Line.status).in_(["needs_review", "pending"]))).all())

    def _settle(self, deadline: float) -> None:
        """Wait until no operation is pending or in flight and every stored webhook is processed."""
        while True:
            self._supervise()
            with read_session() as s:
                live = s.exec(select(func.count(ExternalOperation.id)).where(
                    col(ExternalOperation.status).in_(LIVE_OPERATION_STATES))).one()
                unprocessed = s.exec(select(func.count(InboundEvent.id)).where(
                    col(InboundEvent.processed_at).is_(None))).one()
            if live == 0 and unprocessed == 0:
                time.sleep(3)  # late webhooks (re-ordered, retried) still arriving
                with read_session() as s:
                    if s.exec(select(func.count(InboundEvent.id)).where(
                            col(InboundEvent.processed_at).is_(None))).one() == 0:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError(f"chaos run: {live} operations and {unprocessed} webhooks never settled\n"
                                   f"{self._tails()}")
            time.sleep(0.5)

    def _tails(self) -> str:
        return "\n".join(f"--- {p.log.name} ---\n{p.log.read_text(errors='replace')[-3000:]}" for p in self.processes)

    # -- checking --

    def _check(self, sandbox: SandboxProcess) -> None:
        report = self.report
        with read_session() as s:
            ops = s.exec(select(ExternalOperation)).all()
            attempts = s.exec(select(ExternalAttempt.external_operation_id, ExternalAttempt.outcome)).all()
            review = s.exec(select(ReviewItem)).all()
            events = s.exec(select(InboundEvent.provider, InboundEvent.event_id, InboundEvent.processed_at)).all()
            ledger_lines = dict(s.exec(select(Line.id, Line.status).where(col(Line.id).in_(list(self.msisdns)))).all())
        report.carrier_operations = sum(op.provider == "carrier" for op in ops)
        report.charges = sum(op.provider == "payment" and op.operation == "charge" for op in ops)
        report.operations = len(ops)
        report.attempts = len(attempts)
        report.retries = max(0, len(attempts) - len(ops))
        report.unknown_attempts = sum(outcome == "unknown" for _, outcome in attempts)
        doubted = {item.external_operation_id for item in review if item.kind.endswith(".unknown")}
        report.unknown_operations = len(doubted)
        report.reconciled = sum(op.id in doubted and op.status in ("succeeded", "failed") for op in ops)
        report.queued_for_review = sum(item.status == "open" for item in review)
        charged = {op.invoice_id for op in ops if op.provider == "payment" and op.operation == "charge"}
        report.lost_operations = (sum(op.status in LIVE_OPERATION_STATES for op in ops)
                                  + len(set(self.invoices) - charged)
                                  + sum(1 for line_id in self.msisdns if not any(op.line_id == line_id for op in ops)))
        stored = {(provider, event_id): processed for provider, event_id, processed in events}
        for provider in ("carrier", "payment"):
            log = httpx.get(f"{sandbox.url(provider)}/_sandbox/webhooks", timeout=30).json()
            delivered = {d["event_id"] for d in log["deliveries"] if 200 <= (d.get("status_code") or 0) < 300}
            report.webhooks_delivered += len(delivered)
            report.webhooks_undelivered += len({e["id"] for e in log["events"] if e.get("delivered_to")} - delivered)
            report.lost_webhooks += sum(1 for event_id in delivered if stored.get((provider, event_id)) is None)
            keys = Counter(e["idempotency_key"] for e in sandbox.effects(provider)
                           if e.get("idempotency_key") and e["operation"] in ("activate", "suspend", "resume",
                                                                              "terminate", "charge", "refund"))
            report.duplicated_effects += sum(count - 1 for count in keys.values() if count > 1)
        # each invoice belongs to its own customer here: two successful charges for one would be a double charge
        charged_refs = Counter(e["customer_ref"] for e in sandbox.effects("payment", operation="charge")
                               if e.get("status") == "succeeded")
        report.duplicated_effects += sum(count - 1 for count in charged_refs.values() if count > 1)
        with read_session() as s:
            card_payments_per_invoice = Counter(s.exec(
                select(PaymentAllocation.invoice_id).join(Payment, Payment.id == PaymentAllocation.payment_id)
                .where(Payment.method == "card", col(PaymentAllocation.invoice_id).in_(self.invoices))).all())
        report.duplicated_effects += sum(count - 1 for count in card_payments_per_invoice.values() if count > 1)
        # money the gateway took must be in the ledger (or its operation waiting in the review queue)
        with read_session() as s:
            customers = dict(s.exec(select(Invoice.id, Invoice.customer_id).where(
                col(Invoice.id).in_(self.invoices))).all())
        doubted_invoices = {op.invoice_id for op in ops if op.invoice_id and any(
            item.external_operation_id == op.id and item.status == "open" for item in review)}
        for invoice_id, customer_id in customers.items():
            if (charged_refs[customer_code(customer_id)] != card_payments_per_invoice[invoice_id]
                    and invoice_id not in doubted_invoices):
                report.lost_operations += 1
                report.line_disagreements.append(f"invoice {invoice_id}: gateway and ledger disagree")
        carrier_lines = {line["msisdn"]: line["state"] for line in
                         httpx.get(f"{sandbox.url('carrier')}/lines", timeout=30).json()["lines"]}
        open_lines = {item.line_id for item in review if item.status == "open" and item.line_id}
        report.lines_in_review = len(open_lines & set(self.msisdns))
        for line_id, status in ledger_lines.items():
            carrier_state = carrier_lines.get(self.msisdns[line_id])
            agrees = (status == carrier_state) or (status == "applying" and carrier_state is None)
            if not agrees and line_id not in open_lines:
                report.line_disagreements.append(f"line {line_id}: ledger {status}, carrier {carrier_state}")

    @staticmethod
    def drop_sql_broker_messages(broker_url: str) -> Callable[[], None]:
        """A 'broker restart' for the SQLite broker (no server to restart): every queued message is lost."""
        def drop() -> None:
            engine = make_engine(broker_url.removeprefix("sqla+"))
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM kombu_message"))
            engine.dispose()
        return drop
