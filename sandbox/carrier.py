"""Carrier (MNO) sandbox: line activation, suspension, resumption, termination, plan change, throttling.

    POST /lines/{msisdn}/activate    {"plan", "iccid"?, "callback_url"?}
    POST /lines/{msisdn}/suspend     {"reason"?, "callback_url"?}
    POST /lines/{msisdn}/resume      {"callback_url"?}
    POST /lines/{msisdn}/terminate   {"callback_url"?}
    POST /lines/{msisdn}/plan        {"plan", "callback_url"?}
    POST /lines/{msisdn}/throttle    {"enabled": true|false, "callback_url"?}
    POST /lines/{msisdn}/mnp         {"callback_url"?}: an MNP 転出 予約番号 (10 digits), valid 15 days counting the
                                     day of issue (Tokyo): `reservation_number`, `expires_on` (the last valid day);
                                     a line with a valid one gets the same number again
    GET  /lines/{msisdn}             the line as the carrier sees it (404 if unknown)
    GET  /lines                      every line
    GET  /operations/{operation_id}  one accepted operation; GET /operations?idempotency_key=K finds it by key
    GET  /reports/lines?date=YYYY-MM-DD   CSV: every line's state at the end of that Tokyo day and its usage MB
    GET  /                           demo page (回線一覧 and 処理ログ)
    POST /_sandbox/usage             {"msisdn", "date", "usage_mb"}: set a day's usage in the report
    POST /_sandbox/lines             {"lines": [{"msisdn", "iccid"?, "plan"?, "state", "since", "throttled"?}]}: lines the carrier
                                     already had (a demo or test starting from an existing ledger); known ones are kept

Every POST needs an `Idempotency-Key`. An accepted operation is applied at once (202, `status: accepted`)
and recorded in the effects log (adopt_unknown_lines lets a demo start from an existing ledger); `completion_delay_ms` later a signed `line.operation.completed`
callback goes to the request's `callback_url` or the configured webhook URL, with a sequence number
per MSISDN. A transition the line's state does not allow answers 409 `invalid_transition` (kept under
the key like a success). Run-time config: webhook_url, completion_delay_ms, generate_usage.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.base import (
    JST,
    ApiError,
    ProviderConfig,
    SandboxProvider,
    faults_table,
    html_page,
    html_table,
    jst_text,
    read_json,
    report_date,
)
from sandbox.webhooks import utc_now

MSISDN = re.compile(r"^\+?\d{10,15}$")
STATE_LABELS = {"active": "利用中", "suspended": "停止中", "terminated": "解約済"}
OPERATION_LABELS = {"activate": "開通", "suspend": "停止", "resume": "再開", "terminate": "解約",
                    "change_plan": "プラン変更", "throttle_on": "速度制限 開始", "throttle_off": "速度制限 解除",
                    "mnp_reserve": "MNP予約番号発行"}
# operation -> states it may start from (None = the line does not exist yet)
ALLOWED_FROM: dict[str, set[str | None]] = {
    "activate": {None},
    "suspend": {"active"},
    "resume": {"suspended"},
    "terminate": {"active", "suspended"},
    "change_plan": {"active", "suspended"},
    "throttle_on": {"active", "suspended"},
    "throttle_off": {"active", "suspended"},
    "mnp_reserve": {"active", "suspended"},
}
MNP_VALID_DAYS = 15  # a 予約番号 is valid for 15 days, the day of issue counted as the first


@dataclass
class CarrierConfig(ProviderConfig):
    """Carrier run-time settings."""

    completion_delay_ms: int = 100
    generate_usage: bool = True
    # Demo convenience for a ledger that existed before the sandbox: an unknown line is adopted
    # in the state the operation needs (active for suspend / terminate, suspended for resume).
    adopt_unknown_lines: bool = False


@dataclass
class Line:
    """One line as the carrier knows it, with its state history (UTC times)."""

    msisdn: str
    iccid: str | None
    plan: str
    state: str = "active"
    throttled: bool = False
    activated_at: str = field(default_factory=utc_now)
    updated_at: str = field(default_factory=utc_now)
    history: list[tuple[datetime, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The line as JSON."""
        return {"msisdn": self.msisdn, "iccid": self.iccid, "plan": self.plan, "state": self.state,
                "throttled": self.throttled, "activated_at": self.activated_at, "updated_at": self.updated_at}

    def state_at(self, moment: datetime) -> str | None:
        """The state just before `moment` (None when the line did not exist yet)."""
        state = None
        for when, value in self.history:
            if when >= moment:
                break
            state = value
        return state


class CarrierSandbox(SandboxProvider):
    """The carrier's lines, operations and daily report."""

    name = "carrier"
    config_class = CarrierConfig

    def clear(self) -> None:
        """No lines, no operations, no usage."""
        self.lines: dict[str, Line] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.usage: dict[tuple[str, date], float] = {}
        self.reservations: dict[str, dict[str, str]] = {}  # msisdn -> its MNP 予約番号 and last valid day

    def routes(self) -> list[Route]:
        """The carrier API."""
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/lines", self.list_lines, methods=["GET"]),
            Route("/lines/{msisdn}", self.get_line, methods=["GET"]),
            Route("/lines/{msisdn}/{action}", self.mutate, methods=["POST"]),
            Route("/operations", self.find_operations, methods=["GET"]),
            Route("/operations/{operation_id}", self.get_operation, methods=["GET"]),
            Route("/reports/lines", self.daily_report, methods=["GET"]),
            Route("/_sandbox/usage", self.set_usage, methods=["POST"]),
            Route("/_sandbox/lines", self.load_lines, methods=["POST"]),
        ]

    # -- mutations --

    async def mutate(self, request: Request) -> Response:
        """Apply one line operation once per Idempotency-Key."""
        msisdn, action = request.path_params["msisdn"], request.path_params["action"]
        if action not in ("activate", "suspend", "resume", "terminate", "plan", "throttle", "mnp"):
            return JSONResponse({"error": "not_found", "message": f"unknown operation {action}"}, status_code=404)
        return await self.idempotent(request, lambda body, key: self._apply(msisdn, action, body, key))

    def _apply(self, msisdn: str, action: str, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        if not MSISDN.match(msisdn):
            raise ApiError(400, "invalid_msisdn", "msisdn must be 10-15 digits")
        callback_url = body.get("callback_url")
        if callback_url is not None and not isinstance(callback_url, str):
            raise ApiError(400, "invalid_callback_url", "callback_url must be a string")
        operation = action
        if action in ("activate", "plan"):
            plan = body.get("plan")
            if not isinstance(plan, str) or not plan.strip():
                raise ApiError(400, "plan_required", "plan is required")
        if action == "plan":
            operation = "change_plan"
        if action == "mnp":
            operation = "mnp_reserve"
        if action == "throttle":
            enabled = body.get("enabled")
            if not isinstance(enabled, bool):
                raise ApiError(400, "enabled_required", "enabled must be true or false")
            operation = "throttle_on" if enabled else "throttle_off"
        line = self.lines.get(msisdn)
        if line is None and action != "activate" and self.config.adopt_unknown_lines:
            adopted_state = "suspended" if operation in ("resume",) else "active"
            line = self.lines[msisdn] = Line(msisdn=msisdn, iccid=body.get("iccid"), plan="adopted",
                                             state=adopted_state)
            line.history.append((datetime.now(UTC), adopted_state))
        if line is None and action != "activate":
            raise ApiError(404, "line_not_found", f"no line {msisdn} at the carrier")
        current = None if line is None else line.state
        blocked = current not in ALLOWED_FROM[operation]
        if not blocked and line is not None and operation in ("throttle_on", "throttle_off"):
            blocked = line.throttled == (operation == "throttle_on")
        if blocked:
            return 409, {"error": "invalid_transition", "operation": operation, "msisdn": msisdn,
                         "state": current, "throttled": None if line is None else line.throttled,
                         "message": f"{operation} is not allowed for a line in state {current}"}

        now = datetime.now(UTC)
        reservation: dict[str, str] = {}
        if line is None:
            line = self.lines[msisdn] = Line(msisdn=msisdn, iccid=body.get("iccid"), plan=body["plan"].strip())
        elif operation == "mnp_reserve":
            reservation = self._reserve(msisdn, now)
        elif operation == "change_plan":
            line.plan = body["plan"].strip()
        elif operation in ("throttle_on", "throttle_off"):
            line.throttled = operation == "throttle_on"
        else:
            line.state = {"suspend": "suspended", "resume": "active", "terminate": "terminated"}[operation]
        line.history.append((now, line.state))
        line.updated_at = utc_now()

        operation_id = "op_" + secrets.token_hex(10)
        record = {"operation_id": operation_id, "operation": operation, "msisdn": msisdn, "idempotency_key": key,
                  "status": "accepted", "accepted_at": utc_now(), "completed_at": None, "line": line.as_dict(),
                  **reservation}
        self.operations[operation_id] = record
        self.record_effect(operation, key, msisdn, msisdn=msisdn, operation_id=operation_id,
                           state_after=line.state, plan=line.plan, throttled=line.throttled)
        self.later(self.config.completion_delay_ms / 1000, lambda: self._complete(operation_id, callback_url))
        return 202, dict(record)

    def _reserve(self, msisdn: str, now: datetime) -> dict[str, str]:
        """The line's MNP 予約番号: the valid one it has, else a new 10-digit number valid 15 days from today."""
        today = now.astimezone(JST).date()
        held = self.reservations.get(msisdn)
        if held is not None and date.fromisoformat(held["expires_on"]) >= today:
            return dict(held)
        number = str(secrets.randbelow(9 * 10**9) + 10**9)  # 10 digits, never a leading zero
        held = self.reservations[msisdn] = {
            "reservation_number": number, "expires_on": (today + timedelta(days=MNP_VALID_DAYS - 1)).isoformat()}
        return dict(held)

    def _complete(self, operation_id: str, callback_url: str | None) -> None:
        record = self.operations[operation_id]
        record["status"] = "completed"
        record["completed_at"] = utc_now()
        line = self.lines[record["msisdn"]]
        self.emit("line.operation.completed", record["msisdn"], {
            "operation_id": operation_id, "operation": record["operation"], "msisdn": record["msisdn"],
            "idempotency_key": record["idempotency_key"], "result": "succeeded", "line": line.as_dict(),
            **{k: record[k] for k in ("reservation_number", "expires_on") if k in record},
        }, callback_url)

    # -- queries --

    async def list_lines(self, request: Request) -> JSONResponse:
        """Every line."""
        return JSONResponse({"lines": [line.as_dict() for line in self.lines.values()]})

    async def get_line(self, request: Request) -> JSONResponse:
        """One line's state (404 if unknown)."""
        line = self.lines.get(request.path_params["msisdn"])
        if line is None:
            return JSONResponse({"error": "line_not_found", "message": "no such line"}, status_code=404)
        return JSONResponse(line.as_dict())

    async def get_operation(self, request: Request) -> JSONResponse:
        """One operation by id (404 if unknown)."""
        record = self.operations.get(request.path_params["operation_id"])
        if record is None:
            return JSONResponse({"error": "operation_not_found", "message": "no such operation"}, status_code=404)
        return JSONResponse(record)

    async def find_operations(self, request: Request) -> JSONResponse:
        """Operations filtered by ?idempotency_key= and/or ?msisdn=."""
        key, msisdn = request.query_params.get("idempotency_key"), request.query_params.get("msisdn")
        found = [op for op in self.operations.values()
                 if (key is None or op["idempotency_key"] == key) and (msisdn is None or op["msisdn"] == msisdn)]
        return JSONResponse({"operations": found})

    # -- daily report --

    def _usage_mb(self, line: Line, day: date, start: datetime, end: datetime) -> float:
        if (line.msisdn, day) in self.usage:
            return self.usage[(line.msisdn, day)]
        active = line.state_at(start) == "active" or any(
            start <= when < end and state == "active" for when, state in line.history)
        if not (self.config.generate_usage and active):
            return 0.0
        digest = hashlib.sha256(f"{line.msisdn}:{day.isoformat()}".encode()).digest()
        return int.from_bytes(digest[:4], "big") % 8000 / 10

    async def daily_report(self, request: Request) -> Response:
        """CSV of every line existing at the end of the Tokyo day: state, plan, throttling, usage MB."""
        try:
            day = report_date(request)
        except ApiError as exc:
            return exc.response()
        start = datetime.combine(day, time.min, JST)
        end = start + timedelta(days=1)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["date", "msisdn", "iccid", "plan", "state", "throttled", "usage_mb"])
        for line in sorted(self.lines.values(), key=lambda item: item.msisdn):
            state = line.state_at(end)
            if state is None:
                continue
            writer.writerow([day.isoformat(), line.msisdn, line.iccid or "", line.plan, state,
                             "true" if line.throttled else "false", f"{self._usage_mb(line, day, start, end):.1f}"])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="lines-{day.isoformat()}.csv"'})

    async def set_usage(self, request: Request) -> JSONResponse:
        """Admin: set one line's usage for one day, as the report will show it."""
        try:
            body = await read_json(request)
            msisdn, mb = body.get("msisdn"), body.get("usage_mb")
            if msisdn not in self.lines:
                raise ApiError(404, "line_not_found", "no such line")
            if isinstance(mb, bool) or not isinstance(mb, (int, float)) or mb < 0:
                raise ApiError(400, "invalid_usage", "usage_mb must be a non-negative number")
            day = date.fromisoformat(str(body.get("date")))
        except ValueError:
            return JSONResponse({"error": "invalid_date", "message": "date must be YYYY-MM-DD"}, status_code=400)
        except ApiError as exc:
            return exc.response()
        self.usage[(msisdn, day)] = float(mb)
        return JSONResponse({"msisdn": msisdn, "date": day.isoformat(), "usage_mb": float(mb)})

    async def load_lines(self, request: Request) -> JSONResponse:
        """Admin: add lines the carrier already had, each in `state` since `since` (ISO time), throttled or not
        (`throttled`, default false); known ones stay."""
        try:
            body = await read_json(request)
            rows = body.get("lines")
            if not isinstance(rows, list):
                raise ApiError(400, "lines_required", "lines must be a list")
            parsed = []
            for row in rows:
                msisdn, state = str(row.get("msisdn", "")).lstrip("+"), row.get("state")
                if not msisdn.isdigit() or state not in ("active", "suspended", "terminated"):
                    raise ApiError(400, "invalid_line", "each line needs digits msisdn and state "
                                                        "active | suspended | terminated")
                since = datetime.fromisoformat(str(row.get("since")))
                parsed.append((msisdn, row, state, since if since.tzinfo else since.replace(tzinfo=UTC)))
        except ValueError:
            return JSONResponse({"error": "invalid_since", "message": "since must be an ISO time"}, status_code=400)
        except ApiError as exc:
            return exc.response()
        imported = 0
        for msisdn, row, state, since in parsed:
            if msisdn in self.lines:
                continue
            line = Line(msisdn=msisdn, iccid=row.get("iccid"), plan=str(row.get("plan") or "imported"), state=state,
                        activated_at=since.isoformat(), updated_at=since.isoformat(),
                        throttled=row.get("throttled") is True)
            line.history.append((since, state))
            self.lines[msisdn] = line
            imported += 1
        return JSONResponse({"imported": imported, "known": len(parsed) - imported})

    # -- demo page --

    async def page(self, request: Request) -> Response:
        """回線一覧 and 処理ログ for demos."""
        today = datetime.now(JST).date()
        start = datetime.combine(today, time.min, JST)
        end = start + timedelta(days=1)
        lines = [[line.msisdn, STATE_LABELS.get(line.state, line.state), line.plan,
                  "あり" if line.throttled else "なし", f"{self._usage_mb(line, today, start, end):.1f}",
                  jst_text(line.updated_at)] for line in sorted(self.lines.values(), key=lambda item: item.msisdn)]
        log = [[jst_text(e["at"]), OPERATION_LABELS.get(e["operation"], e["operation"]), e["msisdn"],
                e["idempotency_key"], STATE_LABELS.get(e["state_after"], e["state_after"])]
               for e in reversed(self.effects[-200:])]
        body = (
            f"<p>回線数: {len(self.lines)} ／ 処理件数: {len(self.effects)}</p>"
            "<h2>回線一覧</h2>"
            + html_table(["電話番号", "状態", "料金プラン", "速度制限", "本日の通信量 (MB)", "更新日時"], lines,
                         "回線はまだありません")
            + "<h2>処理ログ（実際に反映された処理）</h2>"
            + html_table(["日時", "操作", "電話番号", "冪等キー", "処理後の状態"], log, "処理はまだありません")
            + "<h2>障害注入</h2>" + faults_table(self.faults.snapshot())
        )
        return html_page("通信事業者サンドボックス", body)
