"""The demo seed: consistent data a user or an auditor could rely on, and no duplicates on restart."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import text

from demo.seed import format_generated_msisdn, main
from services.ledger.inventory import SIM
from services.ledger.lines import LINE
from services.models.contract import ContractStatus
from services.platform.identifiers import (
    format_msisdn,
    is_valid_iccid,
    is_valid_imei,
    is_valid_imsi,
    parse_msisdn,
)
from services.platform.permissions import Actor, Role
from services.platform.text import bigrams
from services.read.search import global_search

# Which SIM / device state goes with each line state (services.ledger.lines keeps them in step).
SIM_FOR_LINE = {"applying": "assigned", "active": "active", "suspended": "active", "pending": "active",
                "needs_review": "active", "terminated": "returned"}
DEVICE_FOR_LINE = {"applying": "assigned", "active": "shipped", "suspended": "shipped", "pending": "shipped",
                   "needs_review": "shipped", "terminated": "returned"}


@pytest.fixture()
def seeded(engine, capsys):
    """A small demo ledger built through the command line."""
    assert main(["--database-url", str(engine.url), "--customers", "60", "--lines", "150"]) == 0
    out = capsys.readouterr().out
    assert "customer" in out and "elapsed" in out
    return engine


def _all(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _one(engine, sql: str):
    return _all(engine, sql)[0][0]


def test_seed_builds_the_requested_population(seeded):
    assert _one(seeded, "SELECT count(*) FROM customer") == 60
    assert _one(seeded, "SELECT count(*) FROM line") == 150
    kinds = dict(_all(seeded, "SELECT kind, count(*) FROM customer GROUP BY kind"))
    assert kinds["corporate"] == 12 and kinds["individual"] == 48
    # corporations have an administrator and further users, and usually several lines
    corp_users = _all(seeded, "SELECT c.id, sum(u.role = 'customer_admin'), sum(u.role = 'user') FROM customer c "
                              "JOIN customer_user u ON u.customer_id = c.id WHERE c.kind = 'corporate' GROUP BY c.id")
    assert len(corp_users) == 12 and all(admins == 1 and users >= 1 for _, admins, users in corp_users)
    for table in ("rate_plan", "rate_option", "sim_card", "device", "invoice", "invoice_item", "payment",
                  "payment_allocation", "usage_record", "ticket", "ticket_message", "audit_entry"):
        assert _one(seeded, f"SELECT count(*) FROM {table}") > 0, table


def test_every_line_belongs_to_its_contracts_customer(seeded):
    assert _one(seeded, "SELECT count(*) FROM line l JOIN contract c ON c.id = l.contract_id "
                        "WHERE l.customer_id != c.customer_id") == 0


def test_states_are_reachable_and_sim_and_device_follow_their_line(seeded):
    line_states = {s.value for s in LINE.states}
    for status, sim_status, device_status in _all(
            seeded, "SELECT l.status, s.status, d.status FROM line l JOIN sim_card s ON s.id = l.sim_card_id "
                    "LEFT JOIN device d ON d.id = l.device_id"):
        assert status in line_states
        assert sim_status == SIM_FOR_LINE[status]
        assert device_status in (None, DEVICE_FOR_LINE[status])
    spare = {s for (s,) in _all(seeded, "SELECT status FROM sim_card WHERE id NOT IN (SELECT sim_card_id FROM line)")}
    assert "in_stock" in spare and spare <= {"in_stock", "faulty", "lost"}
    assert {s.value for s in SIM.states} >= {s for (s,) in _all(seeded, "SELECT DISTINCT status FROM sim_card")}
    # a terminated contract has only terminated lines; an active one has a line in use
    for status, line_states_of_contract in _all(
            seeded, "SELECT c.status, group_concat(l.status) FROM contract c JOIN line l ON l.contract_id = c.id "
                    "GROUP BY c.id"):
        states = set(line_states_of_contract.split(","))
        if status == ContractStatus.TERMINATED:
            assert states == {"terminated"}
        if status == ContractStatus.APPLIED:
            assert states == {"applying"}


def test_identifiers_are_valid_and_unique(seeded):
    msisdns = [m for (m,) in _all(seeded, "SELECT msisdn FROM line")]
    assert len(set(msisdns)) == len(msisdns)
    assert all(parse_msisdn(m) == m and format_generated_msisdn(m) == format_msisdn(m) for m in msisdns)
    sims = _all(seeded, "SELECT iccid, imsi FROM sim_card")
    assert all(is_valid_iccid(iccid) and is_valid_imsi(imsi) for iccid, imsi in sims)
    assert len({i for i, _ in sims}) == len({m for _, m in sims}) == len(sims)
    imeis = [i for (i,) in _all(seeded, "SELECT imei FROM device")]
    assert all(is_valid_imei(i) for i in imeis) and len(set(imeis)) == len(imeis)
    numbers = [n for (n,) in _all(seeded, "SELECT invoice_no FROM invoice")]
    assert len(set(numbers)) == len(numbers) and all(n.startswith("INV-") for n in numbers)
    emails = [e for (e,) in _all(seeded, "SELECT email FROM customer_user")]
    assert len(set(emails)) == len(emails)


def test_invoice_totals_are_subtotal_plus_tax_rounded_down_once(seeded):
    for subtotal, tax, total, items_sum, bad_items in _all(
            seeded, "SELECT i.subtotal, i.tax, i.total, sum(it.amount), sum(it.amount != it.quantity * it.unit_price) "
                    "FROM invoice i JOIN invoice_item it ON it.invoice_id = i.id GROUP BY i.id"):
        assert total == subtotal + tax
        assert tax == subtotal * 10 // 100
        assert items_sum == subtotal and bad_items == 0
    # one invoice per contract and period
    assert _one(seeded, "SELECT count(*) FROM (SELECT 1 FROM invoice GROUP BY contract_id, period "
                        "HAVING count(*) > 1)") == 0
    assert _one(seeded, "SELECT count(*) FROM invoice i JOIN contract c ON c.id = i.contract_id "
                        "WHERE i.customer_id != c.customer_id") == 0


def test_payment_states_cover_paid_unpaid_partial_and_overpaid(seeded):
    states = Counter()
    for total, paid in _all(seeded, "SELECT i.total, coalesce(sum(a.amount), 0) FROM invoice i "
                                    "LEFT JOIN payment_allocation a ON a.invoice_id = i.id GROUP BY i.id"):
        states["unpaid" if paid == 0 else "partial" if paid < total else "paid" if paid == total else "overpaid"] += 1
    assert all(states[s] > 0 for s in ("paid", "unpaid", "partial", "overpaid")), states
    assert states["paid"] > states["unpaid"]
    # matched payments are fully allocated to their customer's invoices; unmatched ones have no customer
    assert _one(seeded, "SELECT count(*) FROM payment p JOIN payment_allocation a ON a.payment_id = p.id "
                        "JOIN invoice i ON i.id = a.invoice_id WHERE p.customer_id != i.customer_id "
                        "OR p.amount != a.amount OR p.status != 'matched'") == 0
    assert _one(seeded, "SELECT count(*) FROM payment WHERE status = 'unmatched'") > 0
    assert _one(seeded, "SELECT count(*) FROM payment WHERE status = 'unmatched' AND customer_id IS NOT NULL") == 0


def test_name_index_covers_every_customer(seeded):
    indexed: dict[int, set[str]] = {}
    for gram, customer_id in _all(seeded, "SELECT gram, customer_id FROM customer_name_gram"):
        indexed.setdefault(customer_id, set()).add(gram)
    for cid, name, kana in _all(seeded, "SELECT id, name, name_kana FROM customer"):
        assert indexed[cid] == bigrams(name) | bigrams(kana)


def test_suspended_lines_carry_the_reason_in_their_history(seeded):
    rows = _all(seeded, "SELECT l.id, a.actor_kind, a.reason, a.before_json, a.after_json FROM line l "
                        "LEFT JOIN audit_entry a ON a.line_id = l.id AND a.action = 'line.suspend' "
                        "WHERE l.status = 'suspended'")
    assert rows
    for _, actor_kind, reason, before, after in rows:
        assert actor_kind == "staff" and reason
        assert '"status": "active"' in before and '"status": "suspended"' in after


def test_seeded_numbers_and_names_are_searchable(seeded):
    actor = Actor(kind="staff", id=None, role=Role.SUPPORT, label="support@test")
    line_id, msisdn = _all(seeded, "SELECT id, msisdn FROM line ORDER BY id DESC LIMIT 1")[0]
    assert global_search(format_msisdn(msisdn), actor=actor).group("line").hits[0].id == line_id
    cid, kana = _all(seeded, "SELECT id, name_kana FROM customer ORDER BY id LIMIT 1")[0]
    hits = global_search(kana.replace(" ", "")[:3], actor=actor, limit=100).group("customer").hits
    assert cid in {h.id for h in hits}


def test_if_empty_does_not_duplicate(seeded, capsys):
    before = {t: _one(seeded, f"SELECT count(*) FROM {t}") for t in ("customer", "line", "invoice", "rate_plan")}
    assert main(["--database-url", str(seeded.url), "--customers", "60", "--lines", "150", "--if-empty"]) == 0
    assert "スキップ" in capsys.readouterr().out
    assert {t: _one(seeded, f"SELECT count(*) FROM {t}") for t in before} == before


def test_seeding_again_without_if_empty_adds_without_clashes(seeded):
    assert main(["--database-url", str(seeded.url), "--customers", "10", "--lines", "20"]) == 0
    assert _one(seeded, "SELECT count(*) FROM customer") == 70
    assert _one(seeded, "SELECT count(*) FROM line") == 170
    assert _one(seeded, "SELECT count(*) FROM rate_plan") == 5
