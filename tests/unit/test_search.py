"""Global search: numbers in any format, exact SIM/device numbers, codes, partial names."""

from __future__ import annotations

import pytest

from services.ledger import contracts, customers, inventory, lines
from services.models import Invoice, RatePlan
from services.platform.db import write_session
from services.platform.errors import PermissionDenied
from services.platform.identifiers import luhn_complete
from services.platform.permissions import Actor, Role
from services.read.search import HINT_NAME_TOO_SHORT, HINT_NUMBER_INCOMPLETE, global_search
from telecom_app import routes

ICCID = luhn_complete("898110000000000001")
SPARE_ICCID = luhn_complete("898110000000000002")
IMSI = "440101234567890"
SPARE_IMSI = "440101234567891"
IMEI = luhn_complete("35209912345678")


def _plan() -> int:
    with write_session() as session:
        plan = RatePlan(code="STANDARD_20GB", name="スタンダード 20GB", monthly_fee=2480, data_cap_mb=20480)
        session.add(plan)
        session.flush()
        return plan.id


@pytest.fixture()
def world(engine, sales):
    """One individual with a line (SIM + device), one corporation, one spare SIM, one invoice."""
    plan_id = _plan()
    yamada = customers.create_customer(actor=sales, kind="individual", name="山田 太郎", name_kana="ヤマダ タロウ")
    corp = customers.create_customer(actor=sales, kind="corporate", name="株式会社テスト通信",
                                     name_kana="テストツウシン")
    contract = contracts.create_contract(actor=sales, customer_id=yamada.id, rate_plan_id=plan_id)
    inventory.register_sim(actor=sales, iccid=ICCID, imsi=IMSI)
    spare = inventory.register_sim(actor=sales, iccid=SPARE_ICCID, imsi=SPARE_IMSI)
    device = inventory.register_device(actor=sales, imei=IMEI, model="Pixel 8a")
    line = lines.add_line(actor=sales, contract_id=contract.id, msisdn="090-1234-5678", iccid=ICCID, imei=IMEI)
    with write_session() as session:
        invoice = Invoice(invoice_no="INV-202606-000123", customer_id=yamada.id, contract_id=contract.id,
                          period="2026-06", status="issued", subtotal=2482, tax=248, total=2730)
        session.add(invoice)
        session.flush()
        invoice_id = invoice.id
    return dict(yamada=yamada, corp=corp, contract=contract, line=line, spare=spare, device=device,
                invoice_id=invoice_id)


def _kinds(results) -> list[str]:
    return [g.kind for g in results.groups]


@pytest.mark.parametrize("typed", [
    "090-1234-5678", "09012345678", "+81 90 1234 5678", "+81-90-1234-5678", "819012345678",
    "０９０－１２３４－５６７８", "090ー1234ー5678", " 090 1234 5678 ",
])
def test_number_stored_once_is_found_however_it_is_typed(world, support, typed):
    results = global_search(typed, actor=support)
    assert _kinds(results) == ["line"]
    (hit,) = results.group("line").hits
    assert hit.id == world["line"].id
    assert hit.title == "090-1234-5678"
    assert routes.admin_record(*hit.opens) == f"/admin/lines/{world['line'].id}"
    assert hit.customer_id == world["yamada"].id
    assert hit.status == "applying"
    assert "山田 太郎" in hit.subtitle


def test_iccid_finds_the_sim_and_links_to_its_line(world, support):
    results = global_search(ICCID, actor=support)
    (hit,) = results.group("sim").hits
    assert (hit.kind, hit.title, routes.admin_record(*hit.opens)) == ("sim", ICCID, f"/admin/lines/{world['line'].id}")
    assert hit.customer_id == world["yamada"].id


def test_imsi_finds_the_sim(world, support):
    results = global_search(IMSI, actor=support)
    assert results.group("sim").hits[0].title == ICCID
    assert results.group("device") is None


def test_imei_finds_the_device_and_links_to_its_line(world, support):
    results = global_search(IMEI, actor=support)
    (hit,) = results.group("device").hits
    assert hit.id == world["device"].id
    assert routes.admin_record(*hit.opens) == f"/admin/lines/{world['line'].id}"
    assert "Pixel 8a" in hit.subtitle


def test_sim_in_stock_is_found_without_a_link(world, support):
    (hit,) = global_search(SPARE_ICCID, actor=support).group("sim").hits
    assert hit.id == world["spare"].id
    assert hit.opens is None and hit.customer_id is None
    assert hit.status == "in_stock"


def test_numbers_match_exactly_not_partially(world, support):
    results = global_search(ICCID[:-1], actor=support)
    assert results.groups == []
    assert results.hint == HINT_NUMBER_INCOMPLETE
    assert global_search("090-1234", actor=support).hint == HINT_NUMBER_INCOMPLETE
    assert global_search("090-1234-5679", actor=support).groups == []


def test_hiragana_fragment_finds_the_katakana_customer(world, support):
    results = global_search("やまだ", actor=support)
    assert _kinds(results) == ["customer"]
    (hit,) = results.group("customer").hits
    assert hit.id == world["yamada"].id
    assert routes.admin_record(*hit.opens) == f"/admin/customers/{world['yamada'].id}"
    assert hit.title == "山田 太郎"


def test_name_fragment_ignores_spaces_and_width(world, support):
    assert [h.id for h in global_search("ダタロ", actor=support).group("customer").hits] == [world["yamada"].id]
    assert [h.id for h in global_search("ﾃｽﾄﾂｳ", actor=support).group("customer").hits] == [world["corp"].id]


def test_kanji_fragment_finds_the_customer(world, support):
    assert [h.id for h in global_search("田太", actor=support).group("customer").hits] == [world["yamada"].id]
    assert [h.id for h in global_search("テスト通", actor=support).group("customer").hits] == [world["corp"].id]


def test_bigrams_alone_do_not_make_a_match(world, sales, support):
    # "アイイウ" holds both bigrams of "アイウ" (アイ, イウ) but not the string itself.
    customers.create_customer(actor=sales, kind="individual", name="藍井 宇", name_kana="アイイウ")
    assert global_search("あいう", actor=support).groups == []
    assert global_search("あいい", actor=support).total == 1


def test_one_character_name_asks_for_more(world, support):
    results = global_search("山", actor=support)
    assert results.groups == []
    assert results.hint == HINT_NAME_TOO_SHORT


def test_empty_query_returns_nothing(world, support):
    results = global_search("   ", actor=support)
    assert results.groups == [] and results.hint is None


@pytest.mark.parametrize("typed", ["K-{id:06d}", "K{id}", "k-{id}", "Ｋ{id}"])
def test_customer_code(world, support, typed):
    cid = world["yamada"].id
    results = global_search(typed.format(id=cid), actor=support)
    assert _kinds(results) == ["customer"]
    assert results.group("customer").hits[0].id == cid


@pytest.mark.parametrize("typed", ["C-{id:06d}", "C{id}", "c{id}"])
def test_contract_code(world, support, typed):
    contract_id = world["contract"].id
    results = global_search(typed.format(id=contract_id), actor=support)
    (hit,) = results.group("contract").hits
    assert (hit.id, hit.title, routes.admin_record(*hit.opens)) == (contract_id, f"C-{contract_id:06d}", f"/admin/contracts/{contract_id}")
    assert hit.customer_id == world["yamada"].id


def test_bare_number_finds_customer_and_contract_grouped_in_order(world, support):
    results = global_search("1", actor=support)
    assert _kinds(results) == ["customer", "contract"]
    assert [g.label_ja for g in results.groups] == ["顧客", "契約"]


@pytest.mark.parametrize("typed", ["INV-202606-000123", "inv-202606-000123", "INV202606000123"])
def test_invoice_number(world, support, typed):
    (hit,) = global_search(typed, actor=support).group("invoice").hits
    assert hit.id == world["invoice_id"]
    assert routes.admin_record(*hit.opens) == f"/admin/invoices/{world['invoice_id']}"
    assert hit.title == "INV-202606-000123"


def test_more_flag_when_names_exceed_the_limit(engine, sales, support):
    for i in range(5):
        customers.create_customer(actor=sales, kind="individual", name=f"佐藤 {'一二三四五'[i]}郎",
                                  name_kana="サトウ イチロウ")
    capped = global_search("さとう", actor=support, limit=3).group("customer")
    assert len(capped.hits) == 3 and capped.more is True
    exact = global_search("さとう", actor=support, limit=5).group("customer")
    assert len(exact.hits) == 5 and exact.more is False
    assert [h.id for h in exact.hits] == sorted(h.id for h in exact.hits)


def test_search_needs_a_staff_role(world, nobody):
    with pytest.raises(PermissionDenied):
        global_search("やまだ", actor=nobody)
    customer_admin = Actor(kind="customer", id=1, role=Role.CUSTOMER_ADMIN, label="c", customer_id=1)
    with pytest.raises(PermissionDenied):
        global_search("やまだ", actor=customer_admin)
