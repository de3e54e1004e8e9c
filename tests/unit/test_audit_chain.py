"""The tamper-evident audit log: every entry is chained to the one before it, and the verifier
names the first entry an auditor can no longer trust; the viewer and the CSV export filter,
page and mask what each role may see."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, text

from demo.seed import SeedOptions, seed_demo
from services.ledger import customers, lines, tickets
from services.models import AuditEntry
from services.platform.audit import chain_bulk_entries, entry_digest
from services.platform.errors import PermissionDenied, ValidationFailed
from services.security import audit_log
from services.security.audit_log import (
    export_audit_csv,
    list_audit_entries,
    read_filter_form,
    verify_chain,
)
from telecom_app import routes
from tests.unit.builders import World


def _rows(engine, sql: str = "SELECT * FROM audit_entry ORDER BY id"):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql)).mappings()]


def _sql(engine, sql: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def _count(engine) -> int:
    return _rows(engine, "SELECT count(*) AS n FROM audit_entry")[0]["n"]


@pytest.fixture()
def ledger(engine, admin):
    """A ledger after a day of ordinary work: customers, contracts, lines, state changes, tickets."""
    w = World(admin)
    for _ in range(3):
        line = w.line()
        lines.change_line_status(line.id, actor=admin, event="activate", reason="開通確認")
        w.carrier_done(line.id)
    ticket = w.ticket()
    tickets.add_ticket_message(ticket.id, actor=admin, body="確認します。")
    assert _count(engine) >= 15
    return engine


def _bulk(engine, rows: list[dict]) -> None:
    """Append hand-made entries through the same sealing the demo seed uses."""
    next_id = (_rows(engine, "SELECT max(id) AS m FROM audit_entry")[0]["m"] or 0) + 1
    full = []
    for k, row in enumerate(rows):
        full.append({"id": next_id + k, "at": datetime(2026, 4, 1, 3, 0, tzinfo=UTC), "actor_kind": "staff",
                     "actor_id": None, "actor_label": "サポート 一郎 <support@demo.example>",
                     "action": "customer.update",
                     "entity_type": "customer", "entity_id": 1, "customer_id": 1, "contract_id": None,
                     "line_id": None, "before_json": None, "after_json": None, "reason": "テスト",
                     "request_id": f"req-{next_id + k}", **row})
    with engine.begin() as conn:
        chain_bulk_entries(conn, full)
        conn.execute(AuditEntry.__table__.insert(), full)


# --------------------------------------------------------------------------- the chain


def test_every_entry_links_to_the_one_before_and_the_head_names_the_last(ledger):
    entries = _rows(ledger)
    assert entries[0]["prev_hash"] == ""
    for before, entry in zip(entries, entries[1:], strict=False):
        assert entry["prev_hash"] == before["entry_hash"]
    for entry in entries:
        assert len(entry["entry_hash"]) == 64
        assert entry["entry_hash"] == entry_digest(entry, entry["prev_hash"])
    head = _rows(ledger, "SELECT * FROM audit_chain_head")
    assert head == [{"id": 1, "last_entry_id": entries[-1]["id"], "last_hash": entries[-1]["entry_hash"]}]


def test_the_digest_covers_the_content_and_the_link():
    fields = {"id": 7, "at": datetime(2026, 4, 1, 12, 0, tzinfo=UTC), "actor_kind": "staff", "actor_id": 3,
              "actor_label": "山田", "action": "line.suspend", "entity_type": "line", "entity_id": 9,
              "customer_id": 1, "contract_id": 2, "line_id": 9, "before_json": "{}", "after_json": "{}",
              "reason": "紛失", "request_id": "r1"}
    digest = entry_digest(fields, "a" * 64)
    # the same instant written naive (as SQLite returns it) or in Tokyo time hashes the same
    assert entry_digest({**fields, "at": datetime(2026, 4, 1, 12, 0)}, "a" * 64) == digest
    assert entry_digest({**fields, "at": datetime(2026, 4, 1, 21, 0, tzinfo=audit_log.TOKYO)}, "a" * 64) == digest
    assert entry_digest({**fields, "reason": "紛失 "}, "a" * 64) != digest
    assert entry_digest(fields, "b" * 64) != digest


def test_verifier_finds_a_fresh_ledger_with_many_operations_intact(ledger, admin):
    report = verify_chain(actor=admin)
    n = _count(ledger)
    assert report.intact and report.checked == n and report.first_broken_id is None
    assert report.message_ja == f"改ざんは検出されませんでした（{n}件を検証）"


def test_an_empty_ledger_is_intact(engine, admin):
    report = verify_chain(actor=admin)
    assert report == audit_log.ChainReport(True, 0, None, "改ざんは検出されませんでした（0件を検証）")


def test_editing_an_audit_row_with_sql_is_detected_at_that_row(ledger):
    _sql(ledger, "UPDATE audit_entry SET reason = 'x' WHERE id = 5")
    report = verify_chain()
    assert not report.intact and report.first_broken_id == 5 and report.problem == "content"
    assert report.message_ja == "監査ログ #5 で改ざんを検出しました（内容が記録時のハッシュと一致しません）"
    assert report.checked == 5


def test_editing_the_time_or_the_snapshot_of_a_row_is_detected_at_that_row(ledger):
    _sql(ledger, "UPDATE audit_entry SET after_json = replace(after_json, 'activating', 'suspending') "
                 "WHERE id = (SELECT max(id) FROM audit_entry WHERE action = 'line.activate')")
    broken = _rows(ledger, "SELECT max(id) AS m FROM audit_entry WHERE action = 'line.activate'")[0]["m"]
    assert verify_chain().first_broken_id == broken
    _sql(ledger, "UPDATE audit_entry SET at = '2020-01-01 00:00:00.000000' WHERE id = 3")
    assert verify_chain().first_broken_id == 3


def test_rewriting_a_row_and_its_own_hash_is_detected_at_the_next_row(ledger):
    row = _rows(ledger, "SELECT * FROM audit_entry WHERE id = 5")[0]
    row["reason"] = "書き換えた理由"
    _sql(ledger, "UPDATE audit_entry SET reason = :r, entry_hash = :h WHERE id = 5",
         r=row["reason"], h=entry_digest(row, row["prev_hash"]))
    report = verify_chain()
    assert (report.intact, report.first_broken_id, report.problem) == (False, 6, "link")
    assert report.message_ja == "監査ログ #6 で改ざんを検出しました（前のエントリとの連結が一致しません）"


def test_deleting_a_row_is_detected_at_the_next_row(ledger):
    _sql(ledger, "DELETE FROM audit_entry WHERE id = 5")
    report = verify_chain()
    assert (report.intact, report.first_broken_id, report.problem) == (False, 6, "link")


def test_truncating_the_tail_is_detected(ledger):
    last = _count(ledger)
    _sql(ledger, "DELETE FROM audit_entry WHERE id > :k", k=last - 3)
    report = verify_chain()
    assert not report.intact and report.problem == "truncated" and report.first_broken_id == last
    assert f"#{last - 3} より後" in report.message_ja and report.checked == last - 3


def test_deleting_every_entry_is_detected(ledger):
    _sql(ledger, "DELETE FROM audit_entry")
    report = verify_chain()
    assert not report.intact and report.problem == "truncated"


def test_an_entry_slipped_in_after_the_head_is_detected(ledger):
    last = _rows(ledger, "SELECT * FROM audit_entry ORDER BY id DESC LIMIT 1")[0]
    forged = {**last, "id": last["id"] + 1, "reason": "後から追加", "request_id": "forged"}
    forged["prev_hash"] = last["entry_hash"]
    forged["entry_hash"] = entry_digest(forged, forged["prev_hash"])
    columns = ", ".join(forged)
    _sql(ledger, f"INSERT INTO audit_entry ({columns}) VALUES ({', '.join(':' + c for c in forged)})", **forged)
    report = verify_chain()
    assert (report.intact, report.first_broken_id, report.problem) == (False, last["id"] + 1, "unrecorded")


def test_moving_the_head_back_is_detected(ledger):
    _sql(ledger, "UPDATE audit_chain_head SET last_hash = :h", h="0" * 64)
    report = verify_chain()
    assert not report.intact and report.problem == "head" and report.first_broken_id == _count(ledger)


def test_the_verifier_streams_in_batches_smaller_than_the_log(ledger):
    n = _count(ledger)
    statements: list[str] = []

    def _seen(conn, cursor, statement, parameters, context, executemany):
        if "FROM audit_entry" in statement:
            statements.append(statement)

    event.listen(ledger, "before_cursor_execute", _seen)
    try:
        report = verify_chain(batch_size=4)
    finally:
        event.remove(ledger, "before_cursor_execute", _seen)
    assert report.intact and report.checked == n
    assert len(statements) == n // 4 + 1 and all("LIMIT" in s for s in statements)
    # a break in a later batch is still found at the right row
    _sql(ledger, "UPDATE audit_entry SET actor_label = '別人' WHERE id = :k", k=n - 1)
    assert verify_chain(batch_size=3).first_broken_id == n - 1


def test_entries_written_after_the_seed_continue_its_chain(engine, admin):
    seed_demo(engine, SeedOptions(customers=40, lines=90, months=1, usage_days=1, active_history_ratio=0.5,
                                  today=date(2026, 4, 15)))
    seeded = _count(engine)
    assert seeded > 20
    assert verify_chain(actor=admin, batch_size=7).intact
    customers.create_customer(actor=admin, kind="individual", name="追加 花子", name_kana="ツイカ ハナコ")
    seed_demo(engine, SeedOptions(customers=10, lines=20, months=1, usage_days=1, active_history_ratio=1.0,
                                  today=date(2026, 4, 15), seed=7))
    report = verify_chain(actor=admin)
    assert report.intact and report.checked == _count(engine) > seeded + 1


def test_only_admins_may_run_the_verifier(engine, sales, support, accounting, nobody, admin):
    for actor in (sales, support, accounting, nobody):
        with pytest.raises(PermissionDenied):
            verify_chain(actor=actor)
    assert verify_chain(actor=admin).intact


def test_command_line_exits_0_when_intact_and_1_at_the_first_broken_entry(ledger, capsys):
    assert audit_log.main(["verify", "--database-url", str(ledger.url)]) == 0
    assert "改ざんは検出されませんでした" in capsys.readouterr().out
    _sql(ledger, "UPDATE audit_entry SET reason = 'x' WHERE id = 2")
    assert audit_log.main(["verify", "--database-url", str(ledger.url), "--batch-size", "2"]) == 1
    assert "監査ログ #2 で改ざんを検出しました" in capsys.readouterr().out


# --------------------------------------------------------------------------- viewer


def test_list_is_newest_first_and_paged_on_the_server(ledger, support):
    n = _count(ledger)
    first = list_audit_entries(actor=support, page_size=4)
    assert first.total == n and first.pages == -(-n // 4)
    assert [r["id"] for r in first.rows] == [n, n - 1, n - 2, n - 3]
    last = list_audit_entries(actor=support, page=first.pages, page_size=4)
    assert last.rows[-1]["id"] == 1 and len(last.rows) == n - 4 * (first.pages - 1)


def test_list_rows_say_who_did_what_when_and_why(engine, admin, support):
    world = World(admin)
    line = world.line()
    lines.change_line_status(line.id, actor=admin, event="activate", reason="開通確認")
    world.carrier_done(line.id)
    row = list_audit_entries(actor=support, action="line.activate").rows[0]
    assert row["actor"] == "admin@test" and row["action_label"] == "回線: 開通"
    assert row["reason"] == "開通確認" and routes.admin_record(row["entity_type"], row["entity_id"]) == f"/admin/lines/{line.id}"
    assert "status: applying → activating" in row["changes"]


def test_list_filters_by_actor_entity_action_and_id(ledger, support):
    all_rows = list_audit_entries(actor=support, page_size=200).rows
    carrier_answers = [r for r in all_rows if r["actor_kind"] == "system"]
    assert list_audit_entries(actor=support, actor_label="ADMIN@").total == len(all_rows) - len(carrier_answers)
    assert list_audit_entries(actor=support, actor_label="誰も該当しない").total == 0
    line_rows = list_audit_entries(actor=support, entity_type="line", page_size=200).rows
    assert line_rows and {r["entity_type"] for r in line_rows} == {"line"}
    one = list_audit_entries(actor=support, entity_type="line", entity_id=2).rows
    assert [r["action"] for r in one] == ["line.carrier_confirmed", "line.activate", "line.create"]
    assert {r["action"] for r in list_audit_entries(actor=support, action="ticket.message").rows} == {"ticket.message"}
    assert [r["id"] for r in list_audit_entries(actor=support, up_to_id=3).rows] == [3, 2, 1]
    assert list_audit_entries(actor=support, actor_label="%").total == 0  # LIKE wildcards are literal


def test_period_filter_uses_tokyo_calendar_days(engine, support):
    _bulk(engine, [
        {"at": datetime(2026, 3, 31, 14, 59, 59, tzinfo=UTC), "reason": "3/31 23:59 JST"},
        {"at": datetime(2026, 3, 31, 15, 0, 0, tzinfo=UTC), "reason": "4/1 00:00 JST"},
        {"at": datetime(2026, 4, 1, 14, 59, 59, tzinfo=UTC), "reason": "4/1 23:59 JST"},
        {"at": datetime(2026, 4, 1, 15, 0, 0, tzinfo=UTC), "reason": "4/2 00:00 JST"},
    ])
    day = list_audit_entries(actor=support, since=date(2026, 4, 1), until=date(2026, 4, 1)).rows
    assert [r["reason"] for r in day] == ["4/1 23:59 JST", "4/1 00:00 JST"]
    assert day[0]["at"] == "2026/04/01 23:59:59"
    assert list_audit_entries(actor=support, since=date(2026, 4, 2)).total == 1
    assert list_audit_entries(actor=support, until=date(2026, 3, 31)).total == 1
    with pytest.raises(ValidationFailed) as err:
        list_audit_entries(actor=support, since=date(2026, 4, 2), until=date(2026, 4, 1))
    assert "until" in err.value.fields
    assert verify_chain().intact


def test_before_and_after_are_masked_for_roles_that_may_not_see_them(engine, support, accounting):
    _bulk(engine, [{
        "before_json": json.dumps({"name": "山田 太郎", "phone": "090-1111-5678", "address": "東京都千代田区1-1"},
                                  ensure_ascii=False),
        "after_json": json.dumps({"name": "山田 太郎", "phone": "090-2222-5678", "address": "東京都港区2-2"},
                                 ensure_ascii=False),
    }])
    seen_by_support = list_audit_entries(actor=support).rows[0]
    assert "090-1111-5678" in seen_by_support["changes"] and "090-2222-5678" in seen_by_support["changes"]
    assert "東京都千代田区" not in seen_by_support["changes"]  # support does not see addresses in full
    seen_by_accounting = list_audit_entries(actor=accounting).rows[0]
    assert "phone: 090-****-5678 → 090-****-5678" in seen_by_accounting["changes"]
    assert "address: 東京都 **** → 東京都 ****" in seen_by_accounting["changes"]
    assert "1111" not in json.dumps(seen_by_accounting, ensure_ascii=False)


def test_read_filter_form_names_the_wrong_field():
    assert read_filter_form({"entity_id": " 12 ", "since": "2026-04-01", "until": "", "actor_label": " 山田 "}) == {
        "actor_label": "山田", "entity_type": None, "entity_id": 12, "action": None,
        "since": date(2026, 4, 1), "until": None, "up_to_id": None}
    with pytest.raises(ValidationFailed) as err:
        read_filter_form({"entity_id": "12a", "since": "4月1日"})
    assert set(err.value.fields) == {"entity_id", "since"}


def test_filter_choices_list_what_is_in_the_log(ledger, sales):
    choices = audit_log.audit_filter_choices(actor=sales)
    assert {"value": "line", "label": "回線"} in choices["entity_types"]
    assert {"value": "line.activate", "label": "回線: 開通（line.activate）"} in choices["actions"]


# --------------------------------------------------------------------------- export


def _csv(text_: str) -> list[list[str]]:
    assert text_.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text_[1:])))


def test_csv_export_has_a_bom_japanese_headers_and_the_filtered_rows_oldest_first(ledger, accounting):
    rows = _csv(export_audit_csv(actor=accounting, entity_type="line"))
    assert rows[0] == list(audit_log.CSV_HEADERS)
    assert rows[0][:4] == ["番号", "日時（日本時間）", "操作者の種別", "担当者"]
    body = rows[1:]
    assert body and all(r[6] == "回線" for r in body)
    assert [int(r[0]) for r in body] == sorted(int(r[0]) for r in body)
    stored = {r["id"]: r["entry_hash"] for r in _rows(ledger)}
    assert all(stored[int(r[0])] == r[-1] for r in body)


def test_csv_export_is_masked_for_the_exporting_role(engine, admin, accounting):
    customers.create_customer(actor=admin, kind="individual", name="山田 太郎", name_kana="ヤマダ タロウ",
                              phone="090-1234-5678", email="taro@example.jp")
    by_accounting = export_audit_csv(actor=accounting, entity_type="customer")
    assert "090-****-5678" in by_accounting and "090-1234-5678" not in by_accounting
    assert "taro@example.jp" in by_accounting  # accounting may see e-mail addresses
    assert "090-1234-5678" in export_audit_csv(actor=admin, entity_type="customer")


def test_csv_export_is_refused_to_sales_and_support(ledger, sales, support):
    for actor in (sales, support):
        with pytest.raises(PermissionDenied):
            export_audit_csv(actor=actor)


def test_csv_export_refuses_more_than_the_limit(ledger, admin, monkeypatch):
    monkeypatch.setattr(audit_log, "EXPORT_LIMIT", 3)
    with pytest.raises(ValidationFailed) as err:
        export_audit_csv(actor=admin)
    assert "条件を絞り込んでください" in err.value.message
    assert len(_csv(export_audit_csv(actor=admin, up_to_id=3))) == 4


def test_csv_export_reads_in_batches(ledger, admin, monkeypatch):
    monkeypatch.setattr(audit_log, "BATCH_SIZE", 4)
    assert len(_csv(export_audit_csv(actor=admin))) == _count(ledger) + 1


def test_recorded_at_is_shown_in_tokyo_time(engine, admin, support):
    World(admin).customer()
    row = list_audit_entries(actor=support).rows[0]
    now_tokyo = datetime.now(audit_log.TOKYO)
    shown = datetime.strptime(row["at"], "%Y/%m/%d %H:%M:%S").replace(tzinfo=audit_log.TOKYO)
    assert abs(now_tokyo - shown) < timedelta(minutes=1)

