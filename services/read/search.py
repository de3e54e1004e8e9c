"""Global search (横断検索): one box for phone numbers, SIM/device numbers, codes and names.

The query is recognised by its shape and answered with exact, indexed look-ups:

- a phone number in any common form (090-1234-5678, 09012345678, +81 90 1234 5678,
  81-90-..., full-width digits) -> the line with that E.164 MSISDN;
- 19-20 digits starting 89 -> the SIM with that ICCID;
- 15 digits -> the device with that IMEI, and the SIM with that IMSI when it starts 440/441;
- K-000123 / K123 -> customer 123; C-000123 / C123 -> contract 123; a bare number -> both;
- INV-202606-000123 -> that invoice;
- anything else of at least two characters -> customers whose name or kana contains it
  (kanji or kana; hiragana finds katakana; spaces and width ignored), through the bigram
  index `customer_name_gram`: the query's bigrams are intersected, starting from the rarest
  one, candidates are verified against the normalised name and kana, and at most limit + 1
  rows are read to know whether there are more.

Results come back grouped by kind (顧客, 契約, 回線, SIM, 端末, 請求書), each hit naming the record
it opens (a SIM or device opens its line). Phone numbers in titles and subtitles are masked per the searcher's
role (services.security.masking); searching by a full number works for every role.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlmodel import Session

from services.models import Contract, Customer, Device, Invoice, Line, RatePlan, SimCard
from services.platform.db import read_session
from services.platform.identifiers import contract_code, customer_code, format_msisdn, parse_msisdn
from services.platform.labels import label, state_label
from services.platform.permissions import Actor, can, require
from services.platform.text import bigrams, normalize_name
from services.security.masking import mask

GROUP_ORDER = ("customer", "contract", "line", "sim", "device", "invoice")
VIEW_PERMISSIONS = {
    "customer": "customer.view", "contract": "contract.view", "line": "line.view",
    "sim": "inventory.view", "device": "inventory.view", "invoice": "invoice.view",
}
HINT_NAME_TOO_SHORT = "名前は2文字以上で検索してください。"
HINT_NUMBER_INCOMPLETE = (
    "番号は全桁で入力してください（電話番号・ICCID・IMSI・IMEI・請求書番号は完全一致で検索します）。"
)
MAX_LIMIT = 100
MAX_QUERY_LENGTH = 100

_CODE = re.compile(r"([KC])-?0*(\d{1,12})", re.IGNORECASE)
_INVOICE_NO = re.compile(r"INV-?(\d{6})-?(\d{1,12})", re.IGNORECASE)
_NUMBERISH = re.compile(r"\+?[\d\s\-()]*\d[\d\s\-()]*")
_SEPARATORS = re.compile(r"[\s\-()+]")
# Dash look-alikes people type inside numbers (090ー1234ー5678); only applied to number-like input.
_DASHES = str.maketrans({ch: "-" for ch in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70"})
_MAX_ID = 2**63 - 1

# Name search: posting lists are counted up to this many rows to pick the rarest bigram, and
# at most this many bigrams (the rarest) are intersected in SQL; the rest are verified in Python.
_GRAM_COUNT_CAP = 5000
_MAX_SQL_GRAMS = 6
_MAX_NAME_BATCHES = 8


@dataclass(frozen=True)
class SearchHit:
    """One record found: what to show and which record it opens (kind and id; None when there is none)."""

    kind: str            # customer | contract | line | sim | device | invoice
    id: int
    title: str
    subtitle: str
    status: str | None   # the record's lifecycle state (raw value), if it has one
    opens: tuple[str, int] | None
    customer_id: int | None

    @property
    def status_label(self) -> str:
        """The Japanese name of the state (停止中), or "" for records without a lifecycle."""
        return state_label(self.kind, self.status) if self.status else ""


@dataclass
class SearchGroup:
    """The hits of one kind; `more` says the list was cut at the limit."""

    kind: str
    label_ja: str
    hits: list[SearchHit] = field(default_factory=list)
    more: bool = False


@dataclass
class SearchResults:
    """Everything one search returns: non-empty groups in a fixed order, or a hint."""

    query: str
    groups: list[SearchGroup] = field(default_factory=list)
    hint: str | None = None

    @property
    def total(self) -> int:
        """Number of hits over all groups."""
        return sum(len(g.hits) for g in self.groups)

    def group(self, kind: str) -> SearchGroup | None:
        """The group of `kind`, if it has hits."""
        return next((g for g in self.groups if g.kind == kind), None)


def global_search(query: str, *, actor: Actor, limit: int = 20) -> SearchResults:
    """Find customers, contracts, lines, SIMs, devices and invoices matching `query`.

    Any staff member may search (permission `search.use`); groups the actor may not view are
    left out. Numbers and codes are matched exactly; names partially (at least two characters).
    Reads only.
    """
    require(actor, "search.use")
    limit = max(1, min(int(limit), MAX_LIMIT))
    raw = unicodedata.normalize("NFKC", query or "").strip()[:MAX_QUERY_LENGTH]
    results = SearchResults(query=query or "")
    if not raw:
        return results
    found: dict[str, tuple[list[SearchHit], bool]] = {}
    with read_session() as session:
        hint = _search(session, raw, limit, found, lambda e164: mask("msisdn", format_msisdn(e164), actor))
    results.hint = hint
    for kind in GROUP_ORDER:
        hits, more = found.get(kind, ([], False))
        if hits and can(actor, VIEW_PERMISSIONS[kind]):
            results.groups.append(SearchGroup(kind, label("record", kind), hits, more))
    return results


def _search(session: Session, raw: str, limit: int, found: dict[str, tuple[list[SearchHit], bool]],
            show_msisdn: Callable[[str], str]) -> str | None:
    """Dispatch on the shape of the query; fill `found`; return a hint if the query cannot be used.

    `show_msisdn` turns a stored E.164 number into what the searcher may see (masked or not).
    """
    code = _CODE.fullmatch(raw)
    if code:
        number = int(code.group(2))
        if code.group(1).upper() == "K":
            found["customer"] = (_customers_by_id(session, number), False)
        else:
            found["contract"] = (_contracts_by_id(session, number), False)
        return None
    invoice = _INVOICE_NO.fullmatch(raw)
    if invoice:
        found["invoice"] = (_invoice_by_no(session, raw.upper(), invoice), False)
        return None
    number = raw.translate(_DASHES)
    if _NUMBERISH.fullmatch(number):
        return _search_number(session, number, found, show_msisdn)
    needle = normalize_name(raw)
    if len(needle) < 2:
        return HINT_NAME_TOO_SHORT
    hits, more = _customers_by_name(session, needle, limit)
    found["customer"] = (hits, more)
    return None


def _search_number(session: Session, raw: str, found: dict[str, tuple[list[SearchHit], bool]],
                   show_msisdn: Callable[[str], str]) -> str | None:
    digits = _SEPARATORS.sub("", raw)
    recognised = False
    e164 = parse_msisdn(raw)
    if e164 is not None:
        recognised = True
        found["line"] = (_lines_by_msisdn(session, e164, show_msisdn), False)
    if len(digits) in (19, 20) and digits.startswith("89"):
        recognised = True
        found["sim"] = (_sims(session, SimCard.iccid == digits, show_msisdn), False)
    if len(digits) == 15:
        recognised = True
        if digits.startswith(("440", "441")):
            found["sim"] = (_sims(session, SimCard.imsi == digits, show_msisdn), False)
        found["device"] = (_devices(session, Device.imei == digits, show_msisdn), False)
    if raw.isdigit() and len(raw) <= 12 and not recognised:
        recognised = True
        number = int(raw)
        found["customer"] = (_customers_by_id(session, number), False)
        found["contract"] = (_contracts_by_id(session, number), False)
    return None if recognised else HINT_NUMBER_INCOMPLETE


# --------------------------------------------------------------------------- exact look-ups


def _customer_hit(cid: int, name: str, kana: str, kind: str) -> SearchHit:
    kind_ja = label("customer_kind", kind)
    return SearchHit("customer", cid, name, f"{customer_code(cid)} ・ {kana} ・ {kind_ja}", None,
                     ("customer", cid), cid)


def _customers_by_id(session: Session, customer_id: int) -> list[SearchHit]:
    if customer_id > _MAX_ID:
        return []
    row = session.execute(select(Customer.id, Customer.name, Customer.name_kana, Customer.kind)
                          .where(Customer.id == customer_id)).first()
    return [_customer_hit(*row)] if row else []


def _contracts_by_id(session: Session, contract_id: int) -> list[SearchHit]:
    if contract_id > _MAX_ID:
        return []
    row = session.execute(
        select(Contract.id, Contract.status, Contract.customer_id, Customer.name, RatePlan.name)
        .join(Customer, Customer.id == Contract.customer_id)
        .join(RatePlan, RatePlan.id == Contract.rate_plan_id)
        .where(Contract.id == contract_id)
    ).first()
    if row is None:
        return []
    cid, status, customer_id, customer_name, plan_name = row
    return [SearchHit("contract", cid, contract_code(cid), f"{customer_name} ・ {plan_name}", status,
                      ("contract", cid), customer_id)]


def _lines_by_msisdn(session: Session, e164: str, show_msisdn: Callable[[str], str]) -> list[SearchHit]:
    row = session.execute(
        select(Line.id, Line.msisdn, Line.status, Line.customer_id, Line.contract_id, Customer.name, RatePlan.name)
        .join(Customer, Customer.id == Line.customer_id)
        .join(Contract, Contract.id == Line.contract_id)
        .join(RatePlan, RatePlan.id == Contract.rate_plan_id)
        .where(Line.msisdn == e164)
    ).first()
    if row is None:
        return []
    line_id, msisdn, status, customer_id, contract_id, customer_name, plan_name = row
    subtitle = f"{customer_name} ・ {contract_code(contract_id)} ・ {plan_name}"
    return [SearchHit("line", line_id, show_msisdn(msisdn), subtitle, status, ("line", line_id),
                      customer_id)]


def _used_by(msisdn: str | None, customer_name: str | None, show_msisdn: Callable[[str], str]) -> str:
    if msisdn is None:
        return "回線未割当"
    return f"{show_msisdn(msisdn)} ・ {customer_name}"


def _sims(session: Session, condition, show_msisdn: Callable[[str], str]) -> list[SearchHit]:
    row = session.execute(
        select(SimCard.id, SimCard.iccid, SimCard.imsi, SimCard.status, Line.id, Line.msisdn, Line.customer_id,
               Customer.name)
        .outerjoin(Line, Line.sim_card_id == SimCard.id)
        .outerjoin(Customer, Customer.id == Line.customer_id)
        .where(condition)
    ).first()
    if row is None:
        return []
    sim_id, iccid, imsi, status, line_id, msisdn, customer_id, customer_name = row
    subtitle = f"IMSI {imsi} ・ {_used_by(msisdn, customer_name, show_msisdn)}"
    return [SearchHit("sim", sim_id, iccid, subtitle, status, ("line", line_id) if line_id else None,
                      customer_id)]


def _devices(session: Session, condition, show_msisdn: Callable[[str], str]) -> list[SearchHit]:
    row = session.execute(
        select(Device.id, Device.imei, Device.model, Device.status, Line.id, Line.msisdn, Line.customer_id,
               Customer.name)
        .outerjoin(Line, Line.device_id == Device.id)
        .outerjoin(Customer, Customer.id == Line.customer_id)
        .where(condition)
    ).first()
    if row is None:
        return []
    device_id, imei, model, status, line_id, msisdn, customer_id, customer_name = row
    subtitle = f"{model} ・ {_used_by(msisdn, customer_name, show_msisdn)}"
    return [SearchHit("device", device_id, imei, subtitle, status, ("line", line_id) if line_id else None,
                      customer_id)]


def _invoice_by_no(session: Session, upper: str, match: re.Match[str]) -> list[SearchHit]:
    canonical = f"INV-{match.group(1)}-{int(match.group(2)):06d}"
    row = session.execute(
        select(Invoice.id, Invoice.invoice_no, Invoice.period, Invoice.total, Invoice.status, Invoice.customer_id,
               Customer.name)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(Invoice.invoice_no.in_(sorted({canonical, upper})))
    ).first()
    if row is None:
        return []
    invoice_id, invoice_no, period, total, status, customer_id, customer_name = row
    subtitle = f"{customer_name} ・ {period[:4]}年{int(period[5:7])}月分 ・ ¥{total:,}"
    return [SearchHit("invoice", invoice_id, invoice_no, subtitle, status, ("invoice", invoice_id),
                      customer_id)]


# --------------------------------------------------------------------------- names


def _customers_by_name(session: Session, needle: str, limit: int) -> tuple[list[SearchHit], bool]:
    """Customers whose normalised name or kana contains `needle` (already normalised, >= 2 chars).

    Reads the bigram posting lists in customer-id order, intersected in SQL (rarest bigram
    first), and verifies each candidate in Python (bigrams do not prove adjacency, and a name's
    and its kana's bigrams share one index). Stops after limit + 1 verified customers.
    """
    grams = sorted(bigrams(needle))
    counts = _gram_counts(session, grams)
    if not counts or min(counts.values()) == 0:
        return [], False
    ordered = sorted(grams, key=lambda g: (counts[g], g))[:_MAX_SQL_GRAMS]
    sql = _name_sql(len(ordered))
    params = {f"g{i}": g for i, g in enumerate(ordered)}
    hits: list[SearchHit] = []
    after, batch = 0, limit + 1
    for _ in range(_MAX_NAME_BATCHES):
        rows = session.execute(sql, {**params, "after": after, "n": batch}).all()
        for cid, name, kana, kind in rows:
            if needle in normalize_name(name) or needle in normalize_name(kana):
                hits.append(_customer_hit(cid, name, kana, kind))
                if len(hits) > limit:
                    return hits[:limit], True
        if len(rows) < batch:
            return hits, False
        after = rows[-1][0]
        batch = min(batch * 4, 2000)
    return hits, True  # gave up verifying: there may be more


def _gram_counts(session: Session, grams: list[str]) -> dict[str, int]:
    """Posting-list sizes of `grams`, each counted up to _GRAM_COUNT_CAP (one round trip)."""
    if not grams:
        return {}
    parts = ", ".join(
        f"(SELECT count(*) FROM (SELECT 1 FROM customer_name_gram WHERE gram = :g{i} LIMIT {_GRAM_COUNT_CAP})"
        f" AS p{i})" for i in range(len(grams)))
    row = session.execute(text(f"SELECT {parts}"), {f"g{i}": g for i, g in enumerate(grams)}).one()
    return dict(zip(grams, row, strict=True))


_NAME_SQL_CACHE: dict[int, object] = {}


def _name_sql(n_grams: int):
    """SELECT customers holding all n bigrams, driven by g0's posting list in id order.

    CROSS JOIN keeps SQLite from reordering: g0 (the rarest bigram) is scanned, each other
    bigram is one primary-key probe (gram, customer_id), then the customer row by id.
    """
    sql = _NAME_SQL_CACHE.get(n_grams)
    if sql is None:
        joins = "".join(f" CROSS JOIN customer_name_gram AS g{i}" for i in range(1, n_grams))
        conds = "".join(f" AND g{i}.gram = :g{i} AND g{i}.customer_id = g0.customer_id" for i in range(1, n_grams))
        sql = text(
            "SELECT c.id, c.name, c.name_kana, c.kind FROM customer_name_gram AS g0"
            f"{joins} CROSS JOIN customer AS c"
            f" WHERE g0.gram = :g0 AND g0.customer_id > :after{conds} AND c.id = g0.customer_id"
            " ORDER BY g0.customer_id LIMIT :n"
        )
        _NAME_SQL_CACHE[n_grams] = sql
    return sql
