"""PII masking by role: search, lists, the 360° view and logs show each role only what it may see;
a reveal needs a reason and is audited; sensitive fields are encrypted at rest and survive a key rotation."""

from __future__ import annotations

import json
import logging
from datetime import date

import pyotp
import pytest
import reflex as rx
from cryptography.fernet import Fernet
from reflex.istate.data import RouterData
from reflex_base import constants
from sqlalchemy import select, text

import telecom_app.telecom_app  # noqa: F401  (registers pages and states)
from demo.seed import BENCH, SeedOptions, seed_demo
from demo.staff import DEMO_PASSWORD, DEMO_STAFF
from services.ledger import customers
from services.models import AuditEntry
from services.platform import crypto
from services.platform.db import read_session
from services.platform.errors import DomainError, PermissionDenied, ValidationFailed
from services.read.search import global_search
from services.read.staff import views
from services.security import auth, masking
from state.admin.customers import CustomerState
from telecom_app.routes import SESSION_COOKIE

ADDRESS = "東京都千代田区丸の内1丁目1番1号"
BANK = {"bank_name": "みずほ銀行", "branch_name": "渋谷支店", "account_type": "普通",
        "account_number": "1234567", "holder": "ヤマダ タロウ"}
DOCUMENT = "123456789012"




@pytest.fixture()
def yamada(world, admin):
    """An individual with every personal field filled, a contract and one line."""
    customer = customers.create_customer(
        actor=admin, kind="individual", name="山田 太郎", name_kana="ヤマダ タロウ", email="taro@example.jp",
        phone="090-1234-5678", postal_code="100-0005", address=ADDRESS, birth_date=date(1985, 4, 1),
        id_document_type="drivers_license", id_document_number=DOCUMENT, bank_account=BANK)
    contract = world.contract(customer.id)
    line = world.line(contract)
    return {"customer": customer, "line": line, "msisdn": views.line_detail(line.id, actor=admin)["line"]["msisdn"]}


def _audit(action: str) -> list[AuditEntry]:
    with read_session() as session:
        return list(session.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars())


def _raw_customer(engine, customer_id: int) -> dict:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT id_document_number_enc, bank_account_enc FROM customer WHERE id = :id"),
                           {"id": customer_id}).mappings().one()
    return dict(row)


# --------------------------------------------------------------------------- masks


@pytest.mark.parametrize("field,value,masked", [
    ("msisdn", "090-1234-5678", "090-****-5678"),
    ("msisdn", "+819012345678", "090-****-5678"),
    ("phone", "03-1234-5678", "03-****-5678"),
    ("phone", "09012345678", "090****5678"),
    ("email", "taro@example.jp", "ta****@example.jp"),
    ("address", ADDRESS, "東京都 ****"),
    ("address", "神奈川県横浜市西区1-1", "神奈川県 ****"),
    ("birth_date", date(1985, 4, 1), "****-**-**"),
    ("id_document_number", DOCUMENT, "********9012"),
    ("bank_account", "みずほ銀行 渋谷支店 普通 1234567 ヤマダ タロウ", "***銀行 ****支店 普通 ****567"),
    ("bank_account", "城南信用金庫 本店営業部 当座 7654321", "***信用金庫 ****営業部 当座 ****321"),
    ("card", "4111 1111 1111 1234", "**** **** **** 1234"),
])
def test_masks_keep_only_what_identifies_the_record(field, value, masked, sales):
    assert masking.mask(field, value, None) == masked
    assert masking.mask(field, None, None) == ""


def test_policy_table_says_who_sees_what(sales, support, accounting, admin):
    assert masking.can_see("msisdn", support) and not masking.can_see("msisdn", accounting)
    assert masking.can_see("bank_account", accounting) and not masking.can_see("bank_account", sales)
    assert masking.can_see("id_document_number", admin) and not masking.can_see("id_document_number", sales)
    assert masking.mask("address", ADDRESS, sales) == ADDRESS
    assert masking.mask("address", ADDRESS, support) == "東京都 ****"
    for field, roles in masking.FIELD_POLICY.items():  # whoever sees a field in full may also reveal it
        assert roles <= masking.REVEAL_POLICY.get(field, roles), field
    with pytest.raises(ValueError):
        masking.mask("shoe_size", "27", admin)


def test_audit_snapshot_is_masked_per_role_and_never_holds_ciphertext(accounting, admin):
    snap = {"msisdn": "+819012345678", "phone": "090-1234-5678", "email": "taro@example.jp", "address": ADDRESS,
            "birth_date": "1985-04-01", "id_document_number": masking.CHANGED, "bank_account_enc": "gAAAA…",
            "status": "active"}
    seen = masking.mask_snapshot("customer", snap, accounting)
    assert seen == {"msisdn": "090-****-5678", "phone": "090-****-5678", "email": "taro@example.jp",
                    "address": "東京都 ****", "birth_date": "****-**-**", "id_document_number": "(変更あり)",
                    "status": "active"}
    assert "bank_account_enc" not in masking.mask_snapshot("customer", snap, admin)
    assert masking.mask_snapshot("line", None, admin) is None


# --------------------------------------------------------------------------- screens


def test_search_by_full_number_works_for_every_role_but_shows_it_masked_to_accounting(yamada, support, accounting):
    typed = yamada["msisdn"]
    (full,) = global_search(typed, actor=support).group("line").hits
    (masked,) = global_search(typed, actor=accounting).group("line").hits
    assert full.id == masked.id == yamada["line"].id
    assert full.title == typed
    assert masked.title == typed[:4] + "****" + typed[8:] and masked.title != typed


def test_sim_hit_subtitle_masks_the_number_of_its_line(yamada, accounting):
    with read_session() as session:
        iccid = session.execute(text("SELECT iccid FROM sim_card")).scalar_one()
    (hit,) = global_search(iccid, actor=accounting).group("sim").hits
    assert yamada["msisdn"] not in hit.subtitle and "****" in hit.subtitle


def test_list_rows_mask_numbers_and_contacts_per_role(yamada, accounting, support):
    assert views.list_lines(actor=accounting).rows[0]["msisdn"].count("*") == 4
    assert views.list_lines(actor=support).rows[0]["msisdn"] == yamada["msisdn"]
    row = views.list_customers(actor=support).rows[0]
    assert row["phone"] == "090-1234-5678" and row["address"] == "東京都 ****"
    assert row["postal_code"] == "***-****" and row["birth_date"] == "****-**-**"


def test_accounting_sees_the_bank_account_in_full_and_numbers_masked_in_the_360_view(yamada, accounting):
    view = views.customer_360(yamada["customer"].id, actor=accounting)
    c = view["customer"]
    assert c["bank_account"] == "みずほ銀行 渋谷支店 普通 1234567 ヤマダ タロウ"
    assert c["phone"] == "090-****-5678" and c["email"] == "taro@example.jp"
    assert c["id_document_number"] == "********9012" and c["id_document_label"] == "運転免許証"
    assert view["lines"][0]["msisdn"] != yamada["msisdn"] and "****" in view["lines"][0]["msisdn"]
    assert set(c["revealable"]) == {"phone", "address"}


def test_support_sees_the_address_masked_and_reveals_it_with_an_audited_reason(yamada, support):
    customer_id = yamada["customer"].id
    c = views.customer_360(customer_id, actor=support)["customer"]
    assert c["address"] == "東京都 ****" and c["bank_account"] == "***銀行 ****支店 普通 ****567"
    assert set(c["revealable"]) == {"address", "birth_date"}

    with pytest.raises(ValidationFailed) as empty:
        masking.reveal_field("customer", customer_id, "address", actor=support, reason="  ")
    assert empty.value.fields == {"reason": "理由を入力してください。"}
    assert _audit("pii.reveal") == []

    value = masking.reveal_field("customer", customer_id, "address", actor=support, reason="お電話での本人確認")
    assert value == f"〒100-0005 {ADDRESS}"
    (entry,) = _audit("pii.reveal")
    assert (entry.entity_type, entry.entity_id, entry.customer_id) == ("customer", customer_id, customer_id)
    assert json.loads(entry.after_json) == {"field": "address"}
    assert entry.reason == "お電話での本人確認" and entry.actor_label == support.label
    assert "丸の内" not in json.dumps([entry.before_json, entry.after_json, entry.reason], ensure_ascii=False)


def test_sales_cannot_reveal_an_id_document_number_and_nothing_is_audited(yamada, sales, admin):
    assert views.customer_360(yamada["customer"].id, actor=sales)["customer"]["id_document_number"] == "********9012"
    with pytest.raises(PermissionDenied):
        masking.reveal_field("customer", yamada["customer"].id, "id_document_number", actor=sales, reason="確認")
    assert _audit("pii.reveal") == []
    assert masking.reveal_field("customer", yamada["customer"].id, "id_document_number", actor=admin,
                                reason="書類の再確認") == DOCUMENT


def test_accounting_may_reveal_a_line_number(yamada, accounting):
    assert masking.reveal_field("line", yamada["line"].id, "msisdn", actor=accounting,
                                reason="請求のお問い合わせ") == yamada["msisdn"]
    (entry,) = _audit("pii.reveal")
    assert entry.line_id == yamada["line"].id and json.loads(entry.after_json) == {"field": "msisdn"}


# --------------------------------------------------------------------------- encryption at rest


def test_sensitive_fields_are_stored_encrypted_and_audited_without_values(yamada, engine, admin):
    raw = _raw_customer(engine, yamada["customer"].id)
    assert DOCUMENT not in raw["id_document_number_enc"] and raw["id_document_number_enc"].startswith("gAAAA")
    assert "1234567" not in raw["bank_account_enc"] and "みずほ" not in raw["bank_account_enc"]
    customers.update_customer_contact(
        yamada["customer"].id, actor=admin, name="山田 太郎", name_kana="ヤマダ タロウ", email="taro@example.jp",
        phone="090-1234-5678", postal_code="100-0005", address=ADDRESS, reason="口座変更の届出",
        bank_account="三井住友銀行 新宿支店 普通 7654321 ヤマダ タロウ")
    (create,) = _audit("customer.create")
    (update,) = _audit("customer.update")
    for entry in (create, update):
        stored = f"{entry.before_json} {entry.after_json}"
        for secret in (DOCUMENT, "1234567", "7654321", "gAAAA", "_enc"):
            assert secret not in stored
    assert json.loads(create.after_json)["id_document_number"] == "(変更あり)"
    assert json.loads(update.after_json)["bank_account"] == "(変更あり)"
    assert "id_document_number" not in json.loads(update.after_json)  # unchanged, not mentioned
    assert views.customer_360(yamada["customer"].id, actor=admin)["customer"]["bank_account"].startswith("三井住友銀行")


def test_invalid_sensitive_input_is_refused_on_the_field(world, admin):
    with pytest.raises(ValidationFailed) as bad:
        customers.create_customer(actor=admin, kind="individual", name="佐藤 花子", name_kana="サトウ ハナコ",
                                  id_document_type="my_number_card", id_document_number="123456789012",
                                  bank_account="みずほ銀行 渋谷支店")
    assert set(bad.value.fields) == {"id_document_number", "bank_account"}


@pytest.fixture()
def key_file(tmp_path, monkeypatch):
    """A key file of its own for this test; the session's keys come back afterwards."""
    monkeypatch.setenv("TELECOM_KEY_FILE", str(tmp_path / "rotate.keys"))
    crypto.reload_keys()
    yield tmp_path / "rotate.keys"
    monkeypatch.undo()
    crypto.reload_keys()


def test_key_rotation_keeps_every_value_readable_and_changes_the_ciphertext(key_file, yamada, engine, admin):
    before = _raw_customer(engine, yamada["customer"].id)
    old_keys = key_file.read_text()
    assert crypto.rotate() >= 2
    after = _raw_customer(engine, yamada["customer"].id)
    assert key_file.read_text() != old_keys and len(key_file.read_text().split()) == 1
    assert all(after[k] != before[k] for k in before)
    c = views.customer_360(yamada["customer"].id, actor=admin)["customer"]
    assert c["id_document_number"] == DOCUMENT
    assert c["bank_account"] == "みずほ銀行 渋谷支店 普通 1234567 ヤマダ タロウ"


def test_a_wrong_key_is_a_clear_error_not_garbage(key_file, yamada, engine, admin):
    key_file.write_text(Fernet.generate_key().decode() + "\n")
    crypto.reload_keys()
    with pytest.raises(crypto.EncryptionKeyMismatch, match="暗号鍵が一致しません"):
        crypto.decrypt(_raw_customer(engine, yamada["customer"].id)["id_document_number_enc"])
    assert views.customer_360(yamada["customer"].id, actor=admin)["customer"]["id_document_number"] == views.UNREADABLE
    with pytest.raises(DomainError, match="暗号鍵"):
        masking.reveal_field("customer", yamada["customer"].id, "bank_account", actor=admin, reason="確認")


def test_demo_seed_fills_encrypted_documents_and_accounts_but_not_in_the_bench_preset(engine):
    seed_demo(engine, SeedOptions(customers=40, lines=40, months=1))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id_document_type, id_document_number_enc, bank_account_enc FROM customer"))
        rows = rows.all()
    documents = [enc for _, enc, _ in rows if enc]
    accounts = [enc for _, _, enc in rows if enc]
    assert documents and accounts
    assert all(crypto.decrypt(enc).isalnum() for enc in documents)
    assert all(json.loads(crypto.decrypt(enc))["account_number"].isdigit() for enc in accounts)
    assert not any(kind == "my_number_card" and enc for kind, enc, _ in rows)
    assert BENCH.sensitive is False


# --------------------------------------------------------------------------- the 360° screen


def _signed_in_state(role: str, customer_id: int):
    email, name, secret = DEMO_STAFF[role]
    auth.provision_demo_staff(email, name, role, DEMO_PASSWORD, secret)
    step = auth.begin_sign_in(email, DEMO_PASSWORD)
    token = auth.redeem_ticket(auth.verify_mfa(step.challenge_token, pyotp.TOTP(secret).now()))
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": f"{SESSION_COOKIE}={token}"},
        constants.RouteVar.CLIENT_IP: "127.0.0.1",
        constants.RouteVar.PATH: "/admin/customers/[customer_id]",
        constants.RouteVar.ORIGIN: f"/admin/customers/{customer_id}",
        constants.RouteVar.QUERY: {"customer_id": str(customer_id)},
    })
    return root.get_substate(CustomerState.get_full_name().split("."))


def test_support_reveals_an_address_on_the_360_view_until_the_page_is_left(yamada):
    st = _signed_in_state("support", yamada["customer"].id)
    CustomerState.load.fn(st)
    assert st.data["customer"]["address"] == "東京都 ****"
    CustomerState.reveal.fn(st, "id_document_number")
    assert st.revealing == "" and st.error == "この項目を表示する権限がありません。"
    CustomerState.reveal.fn(st, "address")
    assert st.revealing == "address"
    CustomerState.confirm_reveal.fn(st, {"reason": ""})
    assert st.field_errors == {"reason": "理由を入力してください。"} and st.revealed == {}
    CustomerState.confirm_reveal.fn(st, {"reason": "お電話での本人確認"})
    assert st.revealed == {"address": f"〒100-0005 {ADDRESS}"} and st.revealing == ""
    assert len(_audit("pii.reveal")) == 1
    CustomerState.forget_revealed.fn(st)
    assert st.revealed == {}


# --------------------------------------------------------------------------- logs


def test_log_records_are_masked():
    record = logging.LogRecord("services.test", logging.INFO, __file__, 1,
                               "call from %s <%s> token=%s ICCID %s", ("090-1234-5678", "taro@example.jp",
                                                                       "s3cr3t-value", "8981100000000000018"), None)
    assert masking.PiiLogFilter().filter(record)
    message = record.getMessage()
    assert "090-1234-5678" not in message and "090-****-5678" in message
    assert "taro@example.jp" not in message and "ta****@example.jp" in message
    assert "s3cr3t-value" not in message and "8981100000000000018" not in message and "0018" in message


def test_installed_filter_masks_every_logger(caplog):
    saved = logging.getLogRecordFactory()
    try:
        masking.install_log_filter()
        masking.install_log_filter()  # idempotent
        with caplog.at_level(logging.INFO):
            logging.getLogger("services.somewhere").info("顧客 %s に連絡 %s", "taro@example.jp", "+81 90 1234 5678")
        (message,) = [r.getMessage() for r in caplog.records if r.name == "services.somewhere"]
        assert "taro@example.jp" not in message and "1234" not in message.replace("****", "")
    finally:
        logging.setLogRecordFactory(saved)
