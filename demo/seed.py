"""Demo data: a realistic small Japanese operator, built with Faker ja_JP and a fixed seed.

`python -m demo.seed` fills the ledger with rate plans and options, individual and
corporate customers (with their name index), customer users, contracts, lines with SIMs and
devices, spare stock, daily usage, monthly invoices with items, payments and allocations
(paid, unpaid, partially paid, overpaid and unmatched), support tickets, and the audit
history of lines whose state changed (suspensions carry the support agent's reason). The
audit entries are sealed into the same hash chain as live entries, so the verifier finds a
freshly seeded ledger intact.

Rows are written with bulk INSERTs (one executemany per table and chunk of customers), not
through the per-record services, so that the `--bench` preset (300,000 customers and
1,000,000 lines) finishes in minutes. The data still obeys the ledger's rules: a line belongs
to its contract's customer, every state is one the lifecycle tables can reach, a SIM's state
follows its line, invoice totals are subtotal + 10 % tax rounded down once per invoice.
Identifiers (MSISDN, ICCID, IMSI, IMEI, invoice numbers, e-mail addresses) are derived from
the new rows' ids, so running the seed again on a non-empty ledger adds data without clashes.
Staff accounts are not created here; if some exist, they appear as ticket assignees and as the
actors of the audit history.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from faker import Faker
from faker.providers.person.ja_JP import Provider as JaPerson
from sqlalchemy import DateTime, delete, func, insert, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from demo.staff import DEMO_STAFF
from services.integrations.direct_debit_file import ZenginValueError, to_zengin_kana
from services.models import (
    AuditEntry,
    ChargeRate,
    Contract,
    ContractOption,
    ContractPlanPeriod,
    Customer,
    CustomerNameGram,
    CustomerUser,
    Device,
    DirectDebitMandate,
    Invoice,
    InvoiceItem,
    InvoiceNumberSeries,
    KycRecord,
    Line,
    Payment,
    PaymentAllocation,
    RateOption,
    RateOptionVersion,
    RatePlan,
    RatePlanVersion,
    SimCard,
    StaffUser,
    Ticket,
    TicketMessage,
    UsageRecord,
)
from services.models.billing import PaymentStatus
from services.models.contract import ContractStatus
from services.models.inventory import DeviceStatus, SimStatus
from services.models.line import LineStatus
from services.models.support import TicketStatus
from services.platform import crypto
from services.platform.audit import chain_bulk_entries
from services.platform.config import settings
from services.platform.identifiers import luhn_complete
from services.platform.text import bigrams

TAX_RATE_PERCENT = 10
TOKYO = ZoneInfo("Asia/Tokyo")

# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class SeedOptions:
    """How much demo data to build. The defaults make the everyday demo operator."""

    customers: int = 2000
    lines: int = 5000
    months: int = 6                  # invoices per contract: the last N complete months
    usage_days: int = 7              # daily usage rows per active line, ending yesterday
    corporate_ratio: float = 0.2
    ticket_ratio: float = 0.12       # share of customers with at least one ticket
    active_history_ratio: float = 0.1  # share of active lines with create/activate audit entries
    seed: int = 20260401
    chunk_customers: int = 10_000    # customers generated and committed per transaction
    today: date | None = None        # anchor of all dates (default: today in Asia/Tokyo)
    sensitive: bool = True           # ID-document numbers and bank accounts (encrypted) for some customers


DEFAULT = SeedOptions()
BENCH = SeedOptions(customers=300_000, lines=1_000_000, months=1, usage_days=1, ticket_ratio=0.02,
                    active_history_ratio=0.0, chunk_customers=10_000, sensitive=False)


@dataclass
class SeedSummary:
    """What the seed wrote (rows per table) and how long it took."""

    counts: dict[str, int] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    skipped: bool = False

    def format(self) -> str:
        """A short human-readable report."""
        if self.skipped:
            return "顧客データが既に存在するため、デモデータの投入をスキップしました。"
        width = max(len(name) for name in self.counts) if self.counts else 0
        rows = [f"  {name:<{width}}  {count:>10,}" for name, count in self.counts.items()]
        return "\n".join(["デモデータを投入しました（追加行数）:", *rows,
                          f"  elapsed: {self.elapsed_seconds:.1f} s"])


# --------------------------------------------------------------------------- weighted choices


def _cumulative(weights: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _pick(rng: random.Random, cumulative: Sequence[float]) -> int:
    return min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


class _Weighted:
    """A fixed weighted choice; the cumulative weights are computed once."""

    def __init__(self, pairs: Iterable[tuple[Any, float]]):
        pairs = list(pairs)
        self.values = [v for v, _ in pairs]
        self.cumulative = list(_cumulative(w for _, w in pairs))

    def __call__(self, rng: random.Random) -> Any:
        return self.values[_pick(rng, self.cumulative)]


# --------------------------------------------------------------------------- catalogue

# (code, name, monthly fee, data cap MB (0 = 無制限), throttled kbps, on sale)
RATE_PLANS: tuple[tuple[str, str, int, int, int, bool], ...] = (
    ("LIGHT_3GB", "ライト 3GB", 990, 3 * 1024, 200, True),
    ("STANDARD_20GB", "スタンダード 20GB", 2480, 20 * 1024, 1000, True),
    ("UNLIMITED", "無制限", 3980, 0, 3000, True),
    ("IOT_100MB", "IoT 100MB", 330, 100, 128, True),
    ("BASIC_7GB_2021", "ベーシック 7GB（販売終了）", 1980, 7 * 1024, 200, False),
)
# (code, name, monthly fee per line)
RATE_OPTIONS: tuple[tuple[str, str, int], ...] = (
    ("CALL_5MIN", "5分かけ放題", 500),
    ("CALL_UNLIMITED", "かけ放題", 1400),
    ("DEVICE_WARRANTY", "端末補償", 550),
    ("VOICEMAIL", "留守番電話", 330),
    ("CALL_WAITING", "割込通話", 220),
    ("SECURITY", "セキュリティパック", 440),
    ("FIXED_IP", "固定IPアドレス", 1100),
)
UNIVERSAL_SERVICE_FEE = ("ユニバーサルサービス料", 2)
RELAY_SERVICE_FEE = ("電話リレーサービス料", 1)
# The rate tables (tax excluded), in effect from long ago: (code, name, kind, amount)
CHARGE_RATES: tuple[tuple[str, str, str, int], ...] = (
    ("sim_issue", "SIM発行手数料", "one_off", 3000),
    ("addon_data_1gb", "追加データ 1GB", "one_off", 500),
    ("universal_service", UNIVERSAL_SERVICE_FEE[0], "levy", UNIVERSAL_SERVICE_FEE[1]),
    ("relay_service", RELAY_SERVICE_FEE[0], "levy", RELAY_SERVICE_FEE[1]),
)
PRICES_FROM = date(2000, 1, 1)  # the catalogue's first versions
BANK_CODES = ("0001", "0005", "0009", "0010", "0017", "0033", "0036", "0038")

HANDSETS = ("iPhone 15", "iPhone 16", "iPhone SE（第3世代）", "Galaxy A55 5G", "AQUOS sense8",
            "Pixel 8a", "Xperia 10 VI", "arrows We2", "OPPO Reno11 A")
ROUTERS = ("Wi-Fiルーター Aterm MR10LN", "Speed Wi-Fi 5G X12", "ホームルーター HR-01",
           "IoTゲートウェイ GW-100")
DEVICE_MODELS = HANDSETS + ROUTERS

# Surnames and given names on top of Faker's (kanji, kana, romaji), for more varied names.
EXTRA_LAST_NAMES = (
    ("石田", "イシダ", "Ishida"), ("小野", "オノ", "Ono"), ("竹内", "タケウチ", "Takeuchi"),
    ("金子", "カネコ", "Kaneko"), ("和田", "ワダ", "Wada"), ("中野", "ナカノ", "Nakano"),
    ("原田", "ハラダ", "Harada"), ("藤本", "フジモト", "Fujimoto"), ("村田", "ムラタ", "Murata"),
    ("上田", "ウエダ", "Ueda"), ("横山", "ヨコヤマ", "Yokoyama"), ("宮崎", "ミヤザキ", "Miyazaki"),
    ("谷口", "タニグチ", "Taniguchi"), ("大野", "オオノ", "Ono"), ("高田", "タカダ", "Takada"),
    ("丸山", "マルヤマ", "Maruyama"), ("今井", "イマイ", "Imai"), ("河野", "コウノ", "Kono"),
    ("武田", "タケダ", "Takeda"), ("新井", "アライ", "Arai"), ("小山", "コヤマ", "Koyama"),
    ("杉山", "スギヤマ", "Sugiyama"), ("野口", "ノグチ", "Noguchi"), ("千葉", "チバ", "Chiba"),
    ("増田", "マスダ", "Masuda"), ("松井", "マツイ", "Matsui"), ("桜井", "サクライ", "Sakurai"),
    ("菅原", "スガワラ", "Sugawara"), ("木下", "キノシタ", "Kinoshita"), ("野村", "ノムラ", "Nomura"),
    ("菊地", "キクチ", "Kikuchi"), ("佐野", "サノ", "Sano"), ("大塚", "オオツカ", "Otsuka"),
    ("市川", "イチカワ", "Ichikawa"), ("平野", "ヒラノ", "Hirano"), ("工藤", "クドウ", "Kudo"),
    ("松尾", "マツオ", "Matsuo"), ("岩崎", "イワサキ", "Iwasaki"), ("内田", "ウチダ", "Uchida"),
    ("酒井", "サカイ", "Sakai"), ("久保", "クボ", "Kubo"), ("水野", "ミズノ", "Mizuno"),
    ("西田", "ニシダ", "Nishida"), ("熊谷", "クマガイ", "Kumagai"), ("北村", "キタムラ", "Kitamura"),
    ("安藤", "アンドウ", "Ando"), ("島田", "シマダ", "Shimada"), ("服部", "ハットリ", "Hattori"),
    ("宮本", "ミヤモト", "Miyamoto"), ("小島", "コジマ", "Kojima"), ("大西", "オオニシ", "Onishi"),
    ("松岡", "マツオカ", "Matsuoka"), ("荒木", "アラキ", "Araki"), ("東海林", "ショウジ", "Shoji"),
)
EXTRA_FIRST_NAMES = (
    ("大翔", "ヒロト", "Hiroto"), ("蓮", "レン", "Ren"), ("悠真", "ユウマ", "Yuma"),
    ("陽翔", "ハルト", "Haruto"), ("湊", "ミナト", "Minato"), ("樹", "イツキ", "Itsuki"),
    ("颯太", "ソウタ", "Sota"), ("誠", "マコト", "Makoto"), ("隆", "タカシ", "Takashi"),
    ("大輔", "ダイスケ", "Daisuke"), ("拓也", "タクヤ", "Takuya"), ("達也", "タツヤ", "Tatsuya"),
    ("亮", "リョウ", "Ryo"), ("剛", "ツヨシ", "Tsuyoshi"), ("正人", "マサト", "Masato"),
    ("哲也", "テツヤ", "Tetsuya"), ("洋平", "ヨウヘイ", "Yohei"), ("健太", "ケンタ", "Kenta"),
    ("陽葵", "ヒマリ", "Himari"), ("凛", "リン", "Rin"), ("結愛", "ユア", "Yua"),
    ("芽依", "メイ", "Mei"), ("葵", "アオイ", "Aoi"), ("紬", "ツムギ", "Tsumugi"),
    ("美咲", "ミサキ", "Misaki"), ("愛", "アイ", "Ai"), ("裕子", "ユウコ", "Yuko"),
    ("恵子", "ケイコ", "Keiko"), ("由美", "ユミ", "Yumi"), ("真由美", "マユミ", "Mayumi"),
    ("智子", "トモコ", "Tomoko"), ("久美子", "クミコ", "Kumiko"), ("直美", "ナオミ", "Naomi"),
    ("美穂", "ミホ", "Miho"), ("千尋", "チヒロ", "Chihiro"), ("彩", "アヤ", "Aya"),
    ("沙織", "サオリ", "Saori"), ("幸子", "サチコ", "Sachiko"), ("理恵", "リエ", "Rie"),
    ("さくら", "サクラ", "Sakura"),
)
# Company name parts: (kanji, kana, romaji).
COMPANY_CORES = (
    ("東京", "トウキョウ", "tokyo"), ("大阪", "オオサカ", "osaka"), ("名古屋", "ナゴヤ", "nagoya"),
    ("横浜", "ヨコハマ", "yokohama"), ("札幌", "サッポロ", "sapporo"), ("福岡", "フクオカ", "fukuoka"),
    ("神戸", "コウベ", "kobe"), ("京都", "キョウト", "kyoto"), ("仙台", "センダイ", "sendai"),
    ("広島", "ヒロシマ", "hiroshima"), ("日本", "ニホン", "nihon"), ("中央", "チュウオウ", "chuo"),
    ("東洋", "トウヨウ", "toyo"), ("太平洋", "タイヘイヨウ", "taiheiyo"), ("富士", "フジ", "fuji"),
    ("青葉", "アオバ", "aoba"), ("北斗", "ホクト", "hokuto"), ("瑞穂", "ミズホ", "mizuho"),
    ("みらい", "ミライ", "mirai"), ("ひかり", "ヒカリ", "hikari"), ("アルファ", "アルファ", "alpha"),
    ("ネクスト", "ネクスト", "next"), ("グリーン", "グリーン", "green"),
    ("サンライズ", "サンライズ", "sunrise"), ("ブルースカイ", "ブルースカイ", "bluesky"),
)
COMPANY_CATEGORIES = (
    ("建設", "ケンセツ", "kensetsu"), ("食品", "ショクヒン", "shokuhin"), ("印刷", "インサツ", "insatsu"),
    ("電気", "デンキ", "denki"), ("情報システム", "ジョウホウシステム", "system"),
    ("通信", "ツウシン", "tsushin"), ("運輸", "ウンユ", "unyu"), ("物流", "ブツリュウ", "logi"),
    ("商事", "ショウジ", "shoji"), ("物産", "ブッサン", "bussan"), ("工業", "コウギョウ", "kogyo"),
    ("製作所", "セイサクショ", "seisakusho"), ("不動産", "フドウサン", "fudosan"),
    ("商店", "ショウテン", "shoten"), ("水産", "スイサン", "suisan"), ("農園", "ノウエン", "noen"),
    ("医療サービス", "イリョウサービス", "iryo"), ("介護サービス", "カイゴサービス", "kaigo"),
    ("工務店", "コウムテン", "komuten"), ("設備", "セツビ", "setsubi"),
    ("警備保障", "ケイビホショウ", "keibi"), ("交通", "コウツウ", "kotsu"), ("観光", "カンコウ", "kanko"),
    ("テクノロジー", "テクノロジー", "tech"), ("ソリューションズ", "ソリューションズ", "solutions"),
    ("薬局", "ヤッキョク", "yakkyoku"),
)
COMPANY_FORM = _Weighted(((("株式会社", "カ）"), 70), (("有限会社", "ユ）"), 15), (("合同会社", "ド）"), 15)))

LINE_STATUS = _Weighted((
    (LineStatus.ACTIVE, 80.0), (LineStatus.SUSPENDED, 5.0), (LineStatus.APPLYING, 3.0),
    (LineStatus.TERMINATED, 9.0), (LineStatus.PENDING, 1.5), (LineStatus.NEEDS_REVIEW, 1.5),
))
MOBILE_PREFIX = _Weighted((("90", 50), ("80", 35), ("70", 15)))
FAMILY_LINES = _Weighted(((1, 75), (2, 20), (3, 5)))
KYC_INDIVIDUAL = _Weighted((("verified", 90), ("submitted", 5), ("not_started", 4), ("rejected", 1)))
KYC_CORPORATE = _Weighted((("verified", 95), ("submitted", 5)))
PLAN_INDIVIDUAL = _Weighted((("LIGHT_3GB", 35), ("STANDARD_20GB", 35), ("UNLIMITED", 22), ("BASIC_7GB_2021", 8)))
PLAN_CORPORATE = _Weighted((("STANDARD_20GB", 50), ("LIGHT_3GB", 30), ("UNLIMITED", 15), ("BASIC_7GB_2021", 5)))
PAYMENT_INDIVIDUAL = _Weighted((("direct_debit", 60), ("card", 35), ("bank_transfer", 5)))
PAYMENT_CORPORATE = _Weighted((("bank_transfer", 75), ("direct_debit", 25)))
TICKET_STATUS = _Weighted(zip(TicketStatus, (15, 20, 10, 25, 30), strict=True))
TICKET_PRIORITY = _Weighted((("low", 20), ("normal", 65), ("high", 15)))
TICKETS_PER_CUSTOMER = _Weighted(((1, 80), (2, 20)))
SUSPEND_REASONS = (
    "料金未払いのため利用停止（督促3回目）",
    "お客様より端末紛失のお申し出があったため一時停止",
    "不正利用の疑いがあるため緊急停止（お客様へ確認中）",
    "お客様のご依頼による一時休止（海外渡航のため）",
    "法人管理者様からの依頼により利用停止（退職者の回線）",
)
TERMINATE_REASONS = (
    "お客様のご依頼による解約",
    "MNP転出による解約",
    "法人契約の回線数見直しによる解約",
    "長期未払いのため強制解約",
)
BANKS = ("みずほ銀行", "三菱UFJ銀行", "三井住友銀行", "りそな銀行", "横浜銀行", "千葉銀行", "福岡銀行",
         "城南信用金庫", "楽天銀行", "住信SBIネット銀行")
BRANCHES = ("本店営業部", "渋谷支店", "新宿支店", "池袋支店", "梅田支店", "名古屋支店", "横浜駅前支店",
            "札幌支店", "博多支店", "仙台支店")
HOLD_REASON = "キャリアからの開通結果が未着のため保留"
REVIEW_REASON = "キャリアの日次レポートと回線状態が一致しないため要確認"

# (subject, first customer message, staff reply, customer follow-up, relates to a line)
TICKET_TEMPLATES = (
    ("通信ができない", "昨日の夜から4G/5Gに繋がらず、データ通信ができません。再起動しても改善しません。",
     "ご不便をおかけしております。APN設定をご確認のうえ、SIMの抜き差しをお試しいただけますでしょうか。",
     "APN設定を直したら繋がりました。ありがとうございました。", True),
    ("請求金額について", "今月の請求額が先月より高くなっています。内訳を教えてください。",
     "明細を確認しました。かけ放題オプションの追加分が含まれております。",
     "承知しました。オプションは来月から外してください。", False),
    ("SIMカードの再発行", "SIMカードを紛失しました。再発行の手続きをお願いします。",
     "回線を一時停止いたしました。再発行手数料と到着までの日数をご案内します。",
     "再発行で進めてください。", True),
    ("端末の故障", "画面が割れてタッチ操作ができません。端末補償は使えますか。",
     "端末補償にご加入いただいております。交換機の発送手続きを進めます。",
     "交換機を受け取りました。", True),
    ("プラン変更の相談", "データ容量が足りないので、20GBのプランへの変更を検討しています。",
     "スタンダード 20GBへの変更は翌月1日から適用となります。お手続きを進めてよろしいでしょうか。",
     "はい、お願いします。", True),
    ("解約手続きについて", "来月末で1回線を解約したいです。必要な手続きを教えてください。",
     "解約のお手続きはマイページまたはお電話で承ります。対象の電話番号をお知らせください。",
     "マイページから申請しました。", True),
    ("MNP予約番号の発行", "他社へ乗り換えるため、MNP予約番号を発行してください。",
     "MNP予約番号を発行しました。有効期限は発行日を含め15日間です。",
     "受け取りました。", True),
    ("支払い方法の変更", "支払い方法を銀行振込から口座振替に変更したいです。",
     "口座振替依頼書を郵送いたします。ご記入のうえご返送ください。",
     "返送しました。", False),
    ("通信速度が遅い", "夕方になると通信速度がかなり遅くなります。",
     "ご利用状況を確認したところ、今月のデータ容量の上限に達しており速度制限中です。",
     "わかりました。容量追加を検討します。", True),
    ("回線の追加", "社員の入社に伴い、回線を3回線追加したいです。",
     "追加回線のお見積りと申込書をお送りします。", "申込書を送付しました。", False),
)
CORPORATE_ONLY_TICKETS = frozenset({"回線の追加"})


# --------------------------------------------------------------------------- helpers


def _utc(d: date, seconds: int = 0) -> datetime:
    """A UTC datetime on day `d` plus `seconds` (business hours in Japan by default)."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(seconds=seconds)


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(d: date) -> date:
    return _add_months(d, 1) - timedelta(days=1)


def format_generated_msisdn(e164: str) -> str:
    """The national display form of a seeded mobile number (+819012345678 -> 090-1234-5678)."""
    national = "0" + e164[3:]
    return f"{national[:3]}-{national[3:7]}-{national[7:]}"


def msisdn_for(line_id: int, prefix: str) -> str:
    """A valid Japanese mobile/IoT number derived one-to-one from a line id ("+81" + prefix + 8 digits)."""
    modulus = 90_000_000
    body = 10_000_000 + (line_id * 48_271 + 1_234_567) % modulus  # first digit 1-9
    return f"+81{prefix}{body}"


def iccid_for(sim_id: int) -> str:
    """A 19-digit ICCID (89 81 10 + serial + Luhn check digit) derived from a SIM id."""
    return luhn_complete(f"898110{sim_id + 100_000_000:012d}")


def imsi_for(sim_id: int) -> str:
    """A 15-digit IMSI (MCC 440, MNC 10) derived one-to-one from a SIM id."""
    return f"44010{(sim_id * 1_000_003 + 7_654_321) % 10_000_000_000:010d}"


def imei_for(device_id: int, model_index: int) -> str:
    """A 15-digit IMEI (Luhn) derived one-to-one from a device id."""
    return luhn_complete(f"35{model_index % 100:02d}{device_id % 10_000_000_000:010d}")



def _line_snapshot(line: dict[str, Any], state: tuple[LineStatus, datetime, datetime | None]) -> dict[str, Any]:
    """The line's columns as services.platform.audit.snapshot would have written them at that moment."""
    status, updated_at, activated_at = state
    snap = {k: line[k] for k in ("id", "msisdn", "customer_id", "contract_id", "sim_card_id", "device_id")}
    snap["status"] = status.value
    snap["activated_at"] = activated_at.isoformat() if activated_at else None
    snap["created_at"] = line["created_at"].isoformat()
    snap["updated_at"] = updated_at.isoformat()
    return snap


@dataclass(frozen=True)
class _StaffRef:
    id: int | None
    label: str


# --------------------------------------------------------------------------- the builder


class _Builder:
    """Generates rows chunk by chunk and writes them with executemany."""

    def __init__(self, engine: Engine, options: SeedOptions):
        self.engine = engine
        self.opt = options
        self.rng = random.Random(options.seed)
        self.sensitive_rng = random.Random(options.seed + 1)  # own stream: the rest of the data stays as it was
        self.kyc_checker = "{1} <{0}>".format(*DEMO_STAFF["support"])  # who the demo's confirmed checks name
        self.kyc_approver = "{1} <{0}>".format(*DEMO_STAFF["admin"])
        self.fake = Faker("ja_JP")
        self.fake.seed_instance(options.seed)
        # Business dates are Tokyo dates; "now" is noon in Tokyo (03:00 UTC), never in the future.
        real_now = datetime.now(UTC)
        self.today = options.today or real_now.astimezone(TOKYO).date()
        self.now = _utc(self.today, 3 * 3600)
        if options.today is None:
            self.now = min(self.now, real_now)
        self.counts: Counter[str] = Counter()
        # invoices for the months before last; last month is the demo's first billing run
        billed_through = _add_months(_month_start(self.today), -2)
        self.periods = [_add_months(billed_through, -i) for i in range(options.months - 1, -1, -1)]
        self.invoice_numbers: Counter[str] = Counter()
        self._build_pools()

    # ---- setup

    def _build_pools(self) -> None:
        faker_last = list(JaPerson.last_name_pairs.items())
        self.last_names = [pair for pair, _ in faker_last] + list(EXTRA_LAST_NAMES)
        weights = [float(w) for _, w in faker_last]
        weights += [50_000 - 300 * i for i in range(len(EXTRA_LAST_NAMES))]
        self.last_cum = list(_cumulative(weights))
        self.first_names = list(JaPerson.first_name_pairs) + list(EXTRA_FIRST_NAMES)
        n_pool = 4000
        self.addresses = [(self.fake.postcode(), self.fake.address()) for _ in range(n_pool)]

    def _next_ids(self, conn: Connection) -> dict[str, int]:
        tables = (Customer, CustomerUser, Contract, ContractOption, ContractPlanPeriod, DirectDebitMandate, SimCard,
                  Device, Line, UsageRecord,
                  Invoice, InvoiceItem, Payment, PaymentAllocation, Ticket, TicketMessage, AuditEntry)
        return {t.__tablename__: (conn.execute(select(func.max(t.id))).scalar() or 0) + 1 for t in tables}

    def _ensure_catalog(self, conn: Connection) -> None:
        existing = set(conn.execute(select(RatePlan.code)).scalars())
        rows = [dict(code=c, name=n, monthly_fee=f, data_cap_mb=cap, throttled_kbps=k, is_active=a)
                for c, n, f, cap, k, a in RATE_PLANS if c not in existing]
        if rows:
            conn.execute(insert(RatePlan), rows)
            self.counts["rate_plan"] += len(rows)
        existing = set(conn.execute(select(RateOption.code)).scalars())
        rows = [dict(code=c, name=n, monthly_fee=f) for c, n, f in RATE_OPTIONS if c not in existing]
        if rows:
            conn.execute(insert(RateOption), rows)
            self.counts["rate_option"] += len(rows)
        self.plans = {r.code: r for r in conn.execute(select(RatePlan))}
        self.options = {r.code: r for r in conn.execute(select(RateOption))}
        priced = set(conn.execute(select(RatePlanVersion.rate_plan_id)).scalars())
        rows = [dict(rate_plan_id=p.id, effective_from=PRICES_FROM, monthly_fee=p.monthly_fee, data_cap_mb=p.data_cap_mb,
                     throttled_kbps=p.throttled_kbps, tax_rate_percent=TAX_RATE_PERCENT, price_includes_tax=True,
                     created_at=self.now) for p in self.plans.values() if p.id not in priced]
        if rows:
            conn.execute(insert(RatePlanVersion), rows)
        priced = set(conn.execute(select(RateOptionVersion.rate_option_id)).scalars())
        rows = [dict(rate_option_id=o.id, effective_from=PRICES_FROM, monthly_fee=o.monthly_fee,
                     tax_rate_percent=TAX_RATE_PERCENT, price_includes_tax=True, created_at=self.now)
                for o in self.options.values() if o.id not in priced]
        if rows:
            conn.execute(insert(RateOptionVersion), rows)
        existing = set(conn.execute(select(ChargeRate.code)).scalars())
        rows = [dict(code=c, name=n, kind=k, effective_from=PRICES_FROM, amount=a, tax_rate_percent=TAX_RATE_PERCENT,
                     price_includes_tax=True, created_at=self.now) for c, n, k, a in CHARGE_RATES if c not in existing]
        if rows:
            conn.execute(insert(ChargeRate), rows)
        self.invoice_numbers.update({s.series: s.last_number for s in conn.execute(select(InvoiceNumberSeries))})

    def _load_staff(self, conn: Connection) -> None:
        """Staff who appear as actors and assignees: existing accounts, else the demo staff's names."""
        staff = conn.execute(select(StaffUser.id, StaffUser.display_name, StaffUser.email, StaffUser.role)
                             .where(StaffUser.is_active.is_(True)).order_by(StaffUser.id)).all()
        by_role: dict[str, list[_StaffRef]] = {}
        for sid, name, email, role in staff:  # the label format of services.security.auth's actors
            by_role.setdefault(role, []).append(_StaffRef(sid, f"{name} <{email}>"[:200]))
        fallback = {role: [_StaffRef(None, f"{name} <{email}>")] for role, (email, name, _) in DEMO_STAFF.items()}
        self.support_staff = by_role.get("support") or by_role.get("admin") or fallback["support"]
        self.sales_staff = by_role.get("sales") or by_role.get("admin") or fallback["sales"]
        self.assignees = [s.id for s in self.support_staff if s.id is not None]

    # ---- population plan

    def _plan_population(self) -> tuple[list[str], list[int]]:
        n, total = self.opt.customers, self.opt.lines
        n_corp = round(n * self.opt.corporate_ratio) if n > 1 else 0
        kinds = ["corporate"] * n_corp + ["individual"] * (n - n_corp)
        self.rng.shuffle(kinds)
        counts = [0] * n
        ind = [i for i, k in enumerate(kinds) if k == "individual"]
        corp = [i for i, k in enumerate(kinds) if k == "corporate"]
        for i in ind:
            counts[i] = FAMILY_LINES(self.rng)
        cap = round(total * 0.6) if corp else total
        over = sum(counts) - cap
        for pass_min in (1, 0):  # first trim families to one line, then leave some without lines
            for i in self.rng.sample(ind, len(ind)):
                while over > 0 and counts[i] > pass_min:
                    counts[i] -= 1
                    over -= 1
        rest = total - sum(counts)
        if corp:
            base = 1 if rest >= len(corp) else 0
            for i in corp:
                counts[i] = base
            rest -= base * len(corp)
            weights = [self.rng.lognormvariate(0.0, 1.1) for _ in corp]
            wsum = sum(weights)
            shares = [rest * w / wsum for w in weights]
            floors = [int(s) for s in shares]
            for i, f in zip(corp, floors, strict=True):
                counts[i] += f
            leftover = rest - sum(floors)
            order = sorted(range(len(corp)), key=lambda j: shares[j] - floors[j], reverse=True)
            for j in order[:leftover]:
                counts[corp[j]] += 1
        else:
            k = 0
            while rest > 0 and ind:
                counts[ind[k % len(ind)]] += 1
                rest -= 1
                k += 1
        return kinds, counts

    # ---- the run

    def run(self) -> None:
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_immediate=True)
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:  # a bigger page cache for this connection while it bulk-loads
                conn.exec_driver_sql("PRAGMA cache_size=-262144")
                conn.commit()
            try:
                self._run(conn)
            finally:
                if sqlite:
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA cache_size=-2000")
                    conn.commit()

    def _run(self, conn: Connection) -> None:
        with conn.begin():
            self._ensure_catalog(conn)
            self._load_staff(conn)
            self.ids = self._next_ids(conn)
        kinds, line_counts = self._plan_population()
        step = max(1, self.opt.chunk_customers)
        for start in range(0, len(kinds), step):
            rows = _Rows()
            for i in range(start, min(start + step, len(kinds))):
                self._customer(rows, kinds[i], line_counts[i])
            self._settle(rows)
            self._spare_stock(rows, final=start + step >= len(kinds))
            with conn.begin():  # one transaction per chunk of customers
                self._write(conn, rows)
        with conn.begin():  # the numbering continues after the seeded invoices
            for series, last in self.invoice_numbers.items():
                conn.execute(delete(InvoiceNumberSeries).where(InvoiceNumberSeries.series == series))
                conn.execute(insert(InvoiceNumberSeries), [{"series": series, "last_number": last}])
        if conn.dialect.name == "postgresql":
            with conn.begin():
                _reset_pg_sequences(conn)

    def _take(self, table: str, n: int = 1) -> int:
        first = self.ids[table]
        self.ids[table] += n
        return first

    def _write(self, conn: Connection, rows: _Rows) -> None:
        chain_bulk_entries(conn, rows.data[AuditEntry.__tablename__])  # same hash chain as audit.record
        for model in _Rows.ORDER:
            batch = rows.data[model.__tablename__]
            if not batch:
                continue
            if conn.dialect.name == "sqlite":
                _sqlite_executemany(conn, model, batch)
            else:
                conn.execute(insert(model), batch)
            self.counts[model.__tablename__] += len(batch)

    # ---- people

    def _person(self) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
        last = self.last_names[_pick(self.rng, self.last_cum)]
        first = self.first_names[self.rng.randrange(len(self.first_names))]
        return last, first

    def _contact_mobile(self) -> str:
        r = self.rng
        return f"0{r.choice('789')}0-{r.randint(1000, 9999)}-{r.randint(1000, 9999)}"

    def _customer(self, rows: _Rows, kind: str, n_lines: int) -> None:
        r = self.rng
        cid = self._take("customer")
        postal, address = self.addresses[r.randrange(len(self.addresses))]
        created = self.now - timedelta(days=r.uniform(60, 4 * 365))
        if kind == "individual":
            last, first = self._person()
            name, kana = f"{last[0]} {first[0]}", f"{last[1]} {first[1]}"
            domain = r.choice(("example.jp", "example.ne.jp", "example.com", "example.org"))
            email = f"{first[2]}.{last[2]}{cid}@{domain}".lower()
            phone = self._contact_mobile()
            birth = self.today - timedelta(days=r.randint(18 * 365, 85 * 365))
            kyc = KYC_INDIVIDUAL(r)
            payer = kana
            slug = f"{last[2]}".lower()
        else:
            core = (self.last_names[_pick(r, self.last_cum)] if r.random() < 0.6
                    else r.choice(COMPANY_CORES))
            cat = r.choice(COMPANY_CATEGORIES)
            form, form_kana = COMPANY_FORM(r)
            name = f"{form}{core[0]}{cat[0]}" if r.random() < 0.6 else f"{core[0]}{cat[0]}{form}"
            kana = f"{core[1]}{cat[1]}"
            slug = f"{core[2]}-{cat[2]}".lower()
            email = f"info{cid}@{slug}.example.co.jp"
            phone = f"0{r.choice(('3', '6', '52', '92', '11'))}-{r.randint(100, 9999)}-{r.randint(1000, 9999)}"
            birth = None
            kyc = KYC_CORPORATE(r)
            payer = f"{form_kana}{kana}"
        sensitive = self._sensitive(kind, kyc, payer)
        rows.add(Customer, id=cid, kind=kind, name=name, name_kana=kana, email=email, phone=phone,
                 postal_code=postal, address=address, birth_date=birth, kyc_status=kyc,
                 created_at=created, updated_at=created, **sensitive)
        if kyc == "verified" and sensitive["id_document_type"]:  # a confirmed check leaves its 本人確認記録
            rows.add(KycRecord, customer_id=cid, confirmed_at=created + timedelta(days=1),
                     checked_by=None, checked_by_label=self.kyc_checker, approved_by=None,
                     approved_by_label=self.kyc_approver, approval_request_id=None, method="ekyc",
                     document_type=sensitive["id_document_type"],
                     document_number_enc=sensitive["id_document_number_enc"], mail_tracking_number=None,
                     provider_check_id=None, name=name, birth_date=birth, address=address)
        for gram in bigrams(name) | bigrams(kana):
            rows.add(CustomerNameGram, gram=gram, customer_id=cid)
        users = self._customer_users(rows, cid, kind, slug, created, name, n_lines)
        cust = _Cust(cid, kind, name, kana, payer, created, users)
        contracts = self._contracts(rows, cust, n_lines)
        if r.random() < self.opt.ticket_ratio:
            for _ in range(TICKETS_PER_CUSTOMER(r)):
                self._ticket(rows, cust, contracts)

    def _sensitive(self, kind: str, kyc: str, holder: str) -> dict[str, str | None]:
        """Encrypted ID-document number (whoever submitted one: a licence, a passport…, a corporation's 登記事項証明書)
        and bank account (口座振替)."""
        out: dict[str, str | None] = {"id_document_type": None, "id_document_number_enc": None,
                                      "bank_account_enc": None}
        if not self.opt.sensitive:
            return out
        r = self.sensitive_rng
        if kind == "corporate" and kyc in ("verified", "submitted"):  # 登記事項証明書 and its 会社法人等番号
            out["id_document_type"] = "corporate_registry"
            out["id_document_number_enc"] = crypto.encrypt(f"{r.randrange(10**12):012d}")
        if kind == "individual" and kyc in ("verified", "submitted"):
            if r.random() < 0.8:
                out["id_document_type"] = "drivers_license"
                out["id_document_number_enc"] = crypto.encrypt(f"{r.randrange(10**12):012d}")
            else:
                out["id_document_type"] = r.choice(("passport", "residence_card", "my_number_card"))
                if out["id_document_type"] != "my_number_card":  # the individual number is never recorded
                    prefix = "TK" if out["id_document_type"] == "passport" else "AB"
                    out["id_document_number_enc"] = crypto.encrypt(f"{prefix}{r.randrange(10**7):07d}")
        if r.random() < (0.6 if kind == "individual" else 0.3):
            account = {"bank_name": r.choice(BANKS), "branch_name": r.choice(BRANCHES), "account_type":
                       "普通" if kind == "individual" or r.random() < 0.5 else "当座",
                       "account_number": f"{r.randrange(10**7):07d}", "holder": holder}
            out["bank_account_enc"] = crypto.encrypt(json.dumps(account, ensure_ascii=False, sort_keys=True))
        return out

    def _customer_users(self, rows: _Rows, cid: int, kind: str, slug: str, created: datetime,
                        name: str, n_lines: int) -> list[int]:
        r = self.rng
        if kind == "individual":
            if r.random() >= 0.7:
                return []
            uid = self._take("customer_user")
            # The holder of an individual account manages it: role customer_admin.
            rows.add(CustomerUser, id=uid, customer_id=cid, email=f"member{uid}@example.jp",
                     name=name, role="customer_admin", is_active=True, can_view_bills=False, can_request=False,
                     created_at=created + timedelta(days=1))
            return [uid]
        ids = []
        for k in range(1 + min(1 + n_lines // 8, 6) if n_lines else 1):
            uid = self._take("customer_user")
            last, first = self._person()
            rows.add(CustomerUser, id=uid, customer_id=cid,
                     email=f"{first[2]}.{last[2]}.{uid}@{slug}.example.co.jp".lower(),
                     name=f"{last[0]} {first[0]}", role="customer_admin" if k == 0 else "user",
                     is_active=r.random() > 0.05 or k == 0, can_view_bills=False, can_request=False,
                     created_at=created + timedelta(days=1 + k))
            ids.append(uid)
        return ids

    # ---- contracts and lines

    def _contracts(self, rows: _Rows, cust: _Cust, n_lines: int) -> list[_Contract]:
        r = self.rng
        if n_lines == 0:
            if r.random() < 0.5:  # a prospect with a draft contract
                contract_id = self._take("contract")
                rows.add(Contract, id=contract_id, customer_id=cust.id,
                         rate_plan_id=self.plans["STANDARD_20GB"].id, status=ContractStatus.DRAFT.value,
                         start_date=None, end_date=None,
                         created_at=self.now - timedelta(days=r.uniform(1, 20)),
                         updated_at=self.now - timedelta(days=r.uniform(0, 1)))
            return []
        if cust.kind == "individual":
            splits = [(n_lines, PLAN_INDIVIDUAL(r))]
        else:
            n_contracts = 1 if n_lines <= 4 else 2 if n_lines <= 20 else 3
            sizes = _split(r, n_lines, n_contracts)
            splits = []
            for k, size in enumerate(sizes):
                if k > 0 and r.random() < 0.35:
                    plan = "IOT_100MB"
                else:
                    plan = PLAN_CORPORATE(r)
                splits.append((size, plan))
        return [self._contract(rows, cust, size, plan) for size, plan in splits]

    def _contract(self, rows: _Rows, cust: _Cust, n_lines: int, plan_code: str) -> _Contract:
        r = self.rng
        plan = self.plans[plan_code]
        contract_id = self._take("contract")
        is_iot = plan_code == "IOT_100MB"
        if is_iot:
            option_codes = ["FIXED_IP"] if r.random() < 0.3 else []
        else:
            pool = ["CALL_5MIN", "CALL_UNLIMITED", "DEVICE_WARRANTY", "VOICEMAIL", "CALL_WAITING", "SECURITY"]
            option_codes = [c for c in pool if r.random() < 0.18]
            if "CALL_5MIN" in option_codes and "CALL_UNLIMITED" in option_codes:
                option_codes.remove("CALL_5MIN")
        contract = _Contract(contract_id, cust, plan, [self.options[c] for c in option_codes], [])
        for _ in range(n_lines):
            contract.lines.append(self._line(rows, contract, is_iot))
        statuses = {ln["status"] for ln in contract.lines}
        live = statuses & {LineStatus.ACTIVE, LineStatus.SUSPENDED, LineStatus.PENDING, LineStatus.NEEDS_REVIEW}
        activations = [ln["activated_at"] for ln in contract.lines if ln["activated_at"]]
        start = min(activations).date() if activations else None
        created = (min(activations) - timedelta(days=3)) if activations else min(
            ln["created_at"] for ln in contract.lines) - timedelta(hours=2)
        end = None
        if statuses == {LineStatus.TERMINATED}:
            status = ContractStatus.TERMINATED
            end = max(ln["updated_at"] for ln in contract.lines).date()
        elif live or LineStatus.TERMINATED in statuses:
            status = ContractStatus.CANCELLATION_REQUESTED if r.random() < 0.02 else ContractStatus.ACTIVE
        else:
            status = ContractStatus.APPLIED
        created = max(min(created, self.now), cust.created)
        rows.add(Contract, id=contract_id, customer_id=cust.id, rate_plan_id=plan.id, status=status.value,
                 start_date=start, end_date=end, created_at=created,
                 updated_at=max(ln["updated_at"] for ln in contract.lines))
        first_day = start or created.astimezone(TOKYO).date()
        if start is not None:
            rows.add(ContractPlanPeriod, id=self._take("contract_plan_period"), contract_id=contract_id,
                     rate_plan_id=plan.id, valid_from=start, valid_to=end, carrier_told_at=_utc(start),
                     created_at=created)
        for opt in contract.options:
            rows.add(ContractOption, id=self._take("contract_option"), contract_id=contract_id,
                     rate_option_id=opt.id, added_at=created, valid_from=first_day,
                     valid_to=max(end, first_day) if end else None)
        self._invoices(rows, contract)
        return contract

    def _line(self, rows: _Rows, contract: _Contract, is_iot: bool) -> dict[str, Any]:
        r = self.rng
        line_id = self._take("line")
        status = LINE_STATUS(r)
        prefix = "20" if is_iot else MOBILE_PREFIX(r)
        msisdn = msisdn_for(line_id, prefix)
        earliest = contract.customer.created + timedelta(days=8)
        if status == LineStatus.APPLYING:
            created = self.now - timedelta(days=r.uniform(0.2, 10))
            activated, changed = None, created
        else:
            span = max((self.now - earliest).total_seconds(), 86400 * 40)
            activated = self.now - timedelta(seconds=r.uniform(86400 * 35, span))
            created = activated - timedelta(days=r.uniform(1, 7))
            if status == LineStatus.ACTIVE:
                changed = activated
            elif status == LineStatus.TERMINATED:
                changed = activated + (self.now - activated) * r.uniform(0.2, 0.98)
            elif status == LineStatus.SUSPENDED:
                changed = self.now - timedelta(days=r.uniform(0.5, min(120, (self.now - activated).days - 1)))
            else:
                changed = self.now - timedelta(days=r.uniform(0.1, 10))
        sim_id = self._take("sim_card")
        sim_status = {
            LineStatus.APPLYING: SimStatus.ASSIGNED, LineStatus.TERMINATED: SimStatus.RETURNED,
        }.get(status, SimStatus.ACTIVE)
        rows.add(SimCard, id=sim_id, iccid=iccid_for(sim_id), imsi=imsi_for(sim_id), status=sim_status.value,
                 created_at=created - timedelta(days=30), updated_at=changed)
        device_id = None
        with_device = r.random() < (0.5 if is_iot else 0.6 if contract.customer.kind == "individual" else 0.4)
        if with_device:
            device_id = self._take("device")
            if is_iot:
                model_index = DEVICE_MODELS.index(r.choice(ROUTERS))
            else:
                model_index = r.randrange(len(HANDSETS)) if r.random() < 0.9 else DEVICE_MODELS.index(
                    r.choice(ROUTERS[:3]))
            device_status = {
                LineStatus.APPLYING: DeviceStatus.ASSIGNED, LineStatus.TERMINATED: DeviceStatus.RETURNED,
            }.get(status, DeviceStatus.SHIPPED)
            rows.add(Device, id=device_id, imei=imei_for(device_id, model_index), model=DEVICE_MODELS[model_index],
                     status=device_status.value, created_at=created - timedelta(days=30), updated_at=changed)
        line = dict(id=line_id, msisdn=msisdn, customer_id=contract.customer.id, contract_id=contract.id,
                    sim_card_id=sim_id, device_id=device_id, status=status.value, activated_at=activated,
                    terminated_at=changed if status == LineStatus.TERMINATED else None,
                    created_at=created, updated_at=changed)
        month_mb = self._usage(rows, line, contract.plan)
        cap = contract.plan.data_cap_mb
        line["throttled"] = bool(cap) and month_mb >= cap  # the carrier throttles a line over its cap
        rows.add(Line, **line)
        self._line_history(rows, line, status, changed)
        return line

    def _usage(self, rows: _Rows, line: dict[str, Any], plan: Any) -> int:
        """Daily usage of an active line over the last days; returns this month's total (MB)."""
        if line["status"] != LineStatus.ACTIVE or not self.opt.usage_days:
            return 0
        r = self.rng
        month_mb, month_start = 0, self.today.replace(day=1)
        daily = (plan.data_cap_mb or 60 * 1024) / 30
        heaviness = r.uniform(0.1, 1.3)
        first_day = line["activated_at"].date() + timedelta(days=1)
        for k in range(self.opt.usage_days, 0, -1):
            day = self.today - timedelta(days=k)
            if day < first_day:
                continue
            used = int(daily * heaviness * r.uniform(0.2, 1.8))
            rows.add(UsageRecord, id=self._take("usage_record"), line_id=line["id"], day=day, used_mb=used)
            month_mb += used if day >= month_start else 0
        return month_mb

    def _line_history(self, rows: _Rows, line: dict[str, Any], status: LineStatus, changed: datetime) -> None:
        """Audit entries of a line's life: how it was opened, and why its state last changed."""
        r = self.rng
        if status == LineStatus.ACTIVE and r.random() >= self.opt.active_history_ratio:
            return
        if status == LineStatus.APPLYING and r.random() >= 0.5:
            return
        sales = r.choice(self.sales_staff)
        created, activated = line["created_at"], line["activated_at"]
        applying = (LineStatus.APPLYING, created, None)
        self._audit(rows, sales, "line.create", line, None, applying, "新規申込（申込書受付）")
        if activated is None:
            return
        active = (LineStatus.ACTIVE, activated, activated)
        self._audit(rows, sales, "line.activate", line, applying, active, "開通確認済み")
        support = r.choice(self.support_staff)
        action, reason = {
            LineStatus.SUSPENDED: ("line.suspend", r.choice(SUSPEND_REASONS)),
            LineStatus.TERMINATED: ("line.terminate", r.choice(TERMINATE_REASONS)),
            LineStatus.PENDING: ("line.hold", HOLD_REASON),
            LineStatus.NEEDS_REVIEW: ("line.flag_for_review", REVIEW_REASON),
        }.get(status, (None, None))
        if action is not None:
            self._audit(rows, support, action, line, active, (status, changed, activated), reason)

    def _audit(self, rows: _Rows, actor: _StaffRef, action: str, line: dict[str, Any],
               before: tuple[LineStatus, datetime, datetime | None] | None,
               after: tuple[LineStatus, datetime, datetime | None], reason: str) -> None:
        audit_id = self._take("audit_entry")
        before_json = json.dumps(_line_snapshot(line, before), ensure_ascii=False) if before else None
        rows.add(AuditEntry, id=audit_id, at=after[1], actor_kind="staff", actor_id=actor.id,
                 actor_label=actor.label, action=action, entity_type="line", entity_id=line["id"],
                 customer_id=line["customer_id"], contract_id=line["contract_id"], line_id=line["id"],
                 before_json=before_json, after_json=json.dumps(_line_snapshot(line, after), ensure_ascii=False),
                 reason=reason, request_id=f"seed-{audit_id}")

    # ---- billing

    def _invoices(self, rows: _Rows, contract: _Contract) -> None:
        for period_start in self.periods:
            period_end = _month_end(period_start)
            billable = []
            for ln in contract.lines:
                activated = ln["activated_at"]
                if activated is None or activated.date() > period_end:
                    continue
                if ln["status"] == LineStatus.TERMINATED and ln["updated_at"].date() < period_start:
                    continue
                billable.append(ln)
            if not billable:
                continue
            invoice_id = self._take("invoice")
            items = []
            for ln in billable:
                items.append(dict(line_id=ln["id"], description=f"{contract.plan.name}（"
                                  f"{format_generated_msisdn(ln['msisdn'])}）", quantity=1,
                                  unit_price=contract.plan.monthly_fee, amount=contract.plan.monthly_fee, kind="plan"))
            n = len(billable)
            for opt in contract.options:
                items.append(dict(line_id=None, description=opt.name, quantity=n, unit_price=opt.monthly_fee,
                                  amount=n * opt.monthly_fee, kind="option"))
            for label, fee in (UNIVERSAL_SERVICE_FEE, RELAY_SERVICE_FEE):
                items.append(dict(line_id=None, description=label, quantity=n, unit_price=fee, amount=n * fee,
                                  kind="levy"))
            subtotal = sum(i["amount"] for i in items)
            tax = subtotal * TAX_RATE_PERCENT // 100
            period = f"{period_start:%Y-%m}"
            issue = _add_months(period_start, 1)
            due = _month_end(issue)
            series = f"INV-{period_start:%Y%m}"
            self.invoice_numbers[series] += 1
            issuer = settings.issuer
            rows.add(Invoice, id=invoice_id, invoice_no=f"{series}-{self.invoice_numbers[series]:06d}",
                     customer_id=contract.customer.id, contract_id=contract.id, period=period,
                     status="issued", issue_date=issue, due_date=due, subtotal=subtotal, tax=tax,
                     total=subtotal + tax, created_at=_utc(issue, 3600), kind="invoice",
                     period_start=period_start, period_end=period_end, issuer_name=issuer.name,
                     issuer_registration_number=issuer.registration_number, issuer_address=issuer.address,
                     recipient_name=contract.customer.name)
            for item in items:
                rows.add(InvoiceItem, id=self._take("invoice_item"), invoice_id=invoice_id,
                         tax_rate_percent=TAX_RATE_PERCENT, **item)
            rows.invoices.append((invoice_id, contract.customer, subtotal + tax, due))

    def _settle(self, rows: _Rows) -> None:
        """Payments for the chunk's invoices: most paid, some unpaid, partial, overpaid, unmatched."""
        r = self.rng
        past = [inv for inv in rows.invoices if inv[3] < self.today]
        upcoming = [inv for inv in rows.invoices if inv[3] >= self.today]
        state: dict[int, str] = {inv[0]: "paid" for inv in past}
        pool = list(past)
        r.shuffle(pool)
        quotas = (("unpaid", 0.04), ("partial", 0.02), ("overpaid", 0.01))
        k = 0
        for name, share in quotas:
            n = max(1, round(len(pool) * share)) if len(pool) >= 10 else 0
            for inv in pool[k:k + n]:
                state[inv[0]] = name
            k += n
        for inv in upcoming:
            state[inv[0]] = "paid" if r.random() < 0.55 else "unpaid"
        for invoice_id, cust, total, due in rows.invoices:
            s = state[invoice_id]
            method = cust.payment_method(r)
            if method == "direct_debit":
                self._mandate(rows, cust)
            if s == "unpaid":
                if due < self.today and r.random() < 0.25:  # paid under another name: needs matching
                    pid = self._take("payment")
                    received = _utc(due, r.randint(0, 20) * 86400 + 3600)
                    rows.add(Payment, id=pid, customer_id=None, amount=total, method="bank_transfer",
                             payer_name=cust.payer.replace(" ", "") if r.random() < 0.5 else cust.payer,
                             reference=f"ZB{received:%Y%m%d}-{pid:07d}", status=PaymentStatus.UNMATCHED.value,
                             received_at=min(received, self.now))
                continue
            if s == "partial":
                amount = max(1, int(total * r.uniform(0.3, 0.8)))
            elif s == "overpaid":
                amount = total + r.choice((500, 1000, 2000, total))
            else:
                amount = total
            pid = self._take("payment")
            late = s != "paid" or r.random() < 0.05
            received = _utc(due, (r.randint(1, 25) if late else -r.randint(0, 10)) * 86400 + 3600)
            received = min(received, self.now - timedelta(hours=1))
            ref_prefix = {"bank_transfer": "ZB", "direct_debit": "DD", "card": "CC"}[method]
            rows.add(Payment, id=pid, customer_id=cust.id, amount=amount, method=method, payer_name=cust.payer,
                     reference=f"{ref_prefix}{received:%Y%m%d}-{pid:07d}", status=PaymentStatus.MATCHED.value,
                     received_at=received)
            rows.add(PaymentAllocation, id=self._take("payment_allocation"), payment_id=pid,
                     invoice_id=invoice_id, amount=amount, created_at=received + timedelta(hours=2))

    def _mandate(self, rows: _Rows, cust: _Cust) -> None:
        """A 口座振替 mandate for a customer who pays by direct debit (once; with --no-sensitive none)."""
        if not self.opt.sensitive or cust.mandate:
            return
        r = self.sensitive_rng
        try:
            holder = to_zengin_kana(cust.kana)[:30]
        except ZenginValueError:
            return
        mandate_id = self._take("direct_debit_mandate")
        number = f"{r.randrange(10**7):07d}"
        rows.add(DirectDebitMandate, id=mandate_id, customer_id=cust.id, bank_code=r.choice(BANK_CODES),
                 branch_code=f"{r.randrange(1, 999):03d}", account_type=1, account_number_enc=crypto.encrypt(number),
                 account_number_last4=number[-4:], holder_kana=holder, customer_number=f"{mandate_id:020d}",
                 status="active", created_at=cust.created + timedelta(days=2))
        cust.mandate = True

    # ---- support

    def _ticket(self, rows: _Rows, cust: _Cust, contracts: list[_Contract]) -> None:
        r = self.rng
        templates = [t for t in TICKET_TEMPLATES
                     if cust.kind == "corporate" or t[0] not in CORPORATE_ONLY_TICKETS]
        subject, first, reply, follow_up, about_line = r.choice(templates)
        contract = r.choice(contracts) if contracts else None
        line = r.choice(contract.lines) if contract and contract.lines and about_line else None
        status = TICKET_STATUS(r)
        opened = self.now - timedelta(days=r.uniform(0.1, 90))
        ticket_id = self._take("ticket")
        author = r.choice(cust.users) if cust.users else None
        messages = [("customer", author, first)]
        if status != TicketStatus.OPEN:
            messages.append(("staff", None, reply))
        if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.IN_PROGRESS) and r.random() < 0.7:
            messages.append(("customer", author, follow_up))
        if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            messages.append(("staff", None, "ご確認ありがとうございました。本件はこれにて解決とさせていただきます。"))
        step = (self.now - opened) / (len(messages) + 1)
        assignee = r.choice(self.assignees) if self.assignees and status != TicketStatus.OPEN else None
        rows.add(Ticket, id=ticket_id, customer_id=cust.id, contract_id=contract.id if contract else None,
                 line_id=line["id"] if line else None, subject=subject, status=status.value,
                 priority=TICKET_PRIORITY(r), assignee_id=assignee,
                 created_at=opened, updated_at=opened + step * len(messages))
        for k, (kind, author_id, body) in enumerate(messages):
            rows.add(TicketMessage, id=self._take("ticket_message"), ticket_id=ticket_id, author_kind=kind,
                     author_id=author_id if kind == "customer" else assignee, body=body, internal=False,
                     created_at=opened + step * k)

    # ---- stock

    def _spare_stock(self, rows: _Rows, final: bool) -> None:
        """Unassigned SIMs and devices proportional to the chunk (in stock, a few faulty or lost)."""
        r = self.rng
        n_lines = len(rows.data["line"])
        n_sims = max(10 if final else 0, round(n_lines * 0.03))
        for k in range(n_sims):
            sim_id = self._take("sim_card")
            status = SimStatus.FAULTY if k % 97 == 5 else SimStatus.LOST if k % 211 == 7 else SimStatus.IN_STOCK
            created = self.now - timedelta(days=r.uniform(1, 200))
            rows.add(SimCard, id=sim_id, iccid=iccid_for(sim_id), imsi=imsi_for(sim_id), status=status.value,
                      created_at=created, updated_at=created)
        n_devices = max(10 if final else 0, round(len(rows.data["device"]) * 0.04))
        for k in range(n_devices):
            device_id = self._take("device")
            model_index = r.randrange(len(DEVICE_MODELS))
            status = DeviceStatus.FAULTY if k % 89 == 3 else DeviceStatus.IN_STOCK
            created = self.now - timedelta(days=r.uniform(1, 200))
            rows.add(Device, id=device_id, imei=imei_for(device_id, model_index), model=DEVICE_MODELS[model_index],
                      status=status.value, created_at=created, updated_at=created)


@dataclass
class _Cust:
    id: int
    kind: str
    name: str
    kana: str
    payer: str
    created: datetime
    users: list[int]
    method: str | None = None
    mandate: bool = False

    def payment_method(self, rng: random.Random) -> str:
        if self.method is None:
            if self.kind == "corporate":
                self.method = PAYMENT_CORPORATE(rng)
            else:
                self.method = PAYMENT_INDIVIDUAL(rng)
        return self.method


@dataclass
class _Contract:
    id: int
    customer: _Cust
    plan: Any
    options: list[Any]
    lines: list[dict[str, Any]]


class _Rows:
    """Rows of one chunk, per table, in foreign-key order."""

    ORDER: tuple[type[SQLModel], ...] = (
        Customer, CustomerNameGram, CustomerUser, KycRecord, DirectDebitMandate, Contract, ContractPlanPeriod,
        ContractOption, SimCard, Device, Line, UsageRecord, Invoice, InvoiceItem, Payment, PaymentAllocation, Ticket,
        TicketMessage, AuditEntry,
    )

    def __init__(self) -> None:
        self.data: dict[str, list[dict[str, Any]]] = {m.__tablename__: [] for m in self.ORDER}
        self.invoices: list[tuple[int, _Cust, int, date]] = []

    def add(self, table: type[SQLModel], /, **values: Any) -> None:
        self.data[table.__tablename__].append(values)


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """Split `total` lines into `parts` contracts, the first one the largest, each at least one."""
    sizes = [1] * parts
    remaining = total - parts
    cumulative = list(_cumulative([3.0] + [rng.uniform(0.3, 1.0) for _ in range(parts - 1)]))
    for _ in range(remaining):
        sizes[_pick(rng, cumulative)] += 1
    return sizes


def _sqlite_datetime(value: datetime | None) -> str | None:
    """A UTC datetime in SQLAlchemy's SQLite storage format (2026-11-26 09:00:00.000000), fast."""
    return None if value is None else value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_executemany(conn: Connection, model: type[SQLModel], batch: list[dict[str, Any]]) -> None:
    """INSERT `batch` with the driver's executemany, values converted by the columns' own bind
    processors (so dates are stored exactly as SQLAlchemy stores them), inside `conn`'s
    transaction. Several times faster than a Core executemany for millions of rows."""
    table = model.__table__
    columns = list(batch[0])
    dialect = conn.dialect
    processors = []
    for i, c in enumerate(columns):
        if isinstance(table.c[c].type, DateTime) and not table.c[c].type.timezone:
            processors.append((i, _sqlite_datetime))
        elif (process := table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) is not None:
            processors.append((i, process))
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    if processors:
        values = []
        for row in batch:
            record = [row[c] for c in columns]
            for i, process in processors:
                record[i] = process(record[i])
            values.append(record)
    else:
        values = [[row[c] for c in columns] for row in batch]
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, values)
    finally:
        cursor.close()


def _reset_pg_sequences(conn: Connection) -> None:
    """PostgreSQL: move id sequences past the explicitly inserted ids."""
    for model in _Rows.ORDER:
        if model is CustomerNameGram:
            continue
        table = model.__tablename__
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1)) FROM {table}")


# --------------------------------------------------------------------------- entry points


def has_customers(engine: Engine) -> bool:
    """True if the ledger already holds at least one customer."""
    with engine.connect() as conn:
        return conn.execute(select(Customer.id).limit(1)).first() is not None


def seed_demo(engine: Engine, options: SeedOptions = DEFAULT, *, if_empty: bool = False) -> SeedSummary:
    """Fill the ledger at `engine` with demo data (see the module docstring).

    With `if_empty`, does nothing when customers already exist. Returns rows added per table.
    """
    started = time.perf_counter()
    if if_empty and has_customers(engine):
        return SeedSummary(skipped=True, elapsed_seconds=time.perf_counter() - started)
    builder = _Builder(engine, options)
    builder.run()
    counts = {m.__tablename__: builder.counts.get(m.__tablename__, 0)
              for m in (RatePlan, RateOption, *_Rows.ORDER)}
    return SeedSummary(counts=counts, elapsed_seconds=time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    """Command line: python -m demo.seed [--customers N --lines N | --bench] [--if-empty]."""
    parser = argparse.ArgumentParser(prog="python -m demo.seed",
                                     description="デモ用の顧客・契約・回線・請求データを投入します。")
    parser.add_argument("--customers", type=int, help=f"number of customers (default {DEFAULT.customers})")
    parser.add_argument("--lines", type=int, help=f"number of lines (default {DEFAULT.lines})")
    parser.add_argument("--months", type=int, help="invoice months per contract (default 6; bench 1)")
    parser.add_argument("--seed", type=int, default=DEFAULT.seed, help="random seed (fixed by default)")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: TELECOM_DATABASE_URL or data/telecom.db)")
    parser.add_argument("--if-empty", action="store_true", help="do nothing if customers already exist")
    parser.add_argument("--bench", action="store_true",
                        help="benchmark preset: 300,000 customers and 1,000,000 lines, one invoice month")
    parser.add_argument("--create-schema", action="store_true",
                        help="create missing tables first (SQLModel.metadata.create_all; normally alembic does)")
    args = parser.parse_args(argv)

    from services.platform.config import settings
    from services.platform.db import make_engine

    options = BENCH if args.bench else DEFAULT
    overrides = {k: v for k, v in (("customers", args.customers), ("lines", args.lines),
                                   ("months", args.months)) if v is not None}
    options = replace(options, seed=args.seed, **overrides)
    if options.customers < 0 or options.lines < 0 or options.months < 0:
        parser.error("counts must not be negative")
    engine = make_engine(args.database_url or settings.database_url)
    try:
        if args.create_schema:
            SQLModel.metadata.create_all(engine)
        elif not inspect(engine).has_table(Customer.__tablename__):
            print("テーブルがありません。先に `alembic upgrade head` を実行するか --create-schema を"
                  "指定してください。", file=sys.stderr)
            return 2
        summary = seed_demo(engine, options, if_empty=args.if_empty)
    finally:
        engine.dispose()
    print(summary.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
