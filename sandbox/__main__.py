"""Start the sandbox providers: `python -m sandbox --host 127.0.0.1 --base-port 9100`.

One process, one asyncio loop, one embedded granian server per provider on consecutive ports (in the
order of PROVIDERS, whether or not `--only` leaves some out), plus the messaging SMTP server on
`--smtp-port` (default base + 7). Prints a table of provider -> URL when every server answers, and stops
cleanly on SIGTERM or Ctrl+C.

Webhooks of provider P go to, in this order of precedence: `--webhook-url P=URL`, the environment
variable SANDBOX_WEBHOOK_URL_<P>, or `{--webhook-base | SANDBOX_WEBHOOK_BASE}/P`; none: events are kept
(GET /_sandbox/webhooks) but not sent. Secrets are the installation's own, from `--secrets-file` (env
SANDBOX_SECRETS_FILE; the JSON file the app generates: "webhook_<provider>" signs that provider's webhooks,
"line_channel_token" is the bearer token the LINE-style API expects); SANDBOX_WEBHOOK_SECRET and
SANDBOX_LINE_TOKEN override them for every provider. A secret given by neither is random for this run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
from granian.constants import Interfaces
from granian.server.embed import Server

from sandbox.bank import BankSandbox
from sandbox.base import PROVIDER_NAMES, ProviderSettings, SandboxProvider
from sandbox.carrier import CarrierSandbox
from sandbox.kyc import KycSandbox
from sandbox.logistics import LogisticsSandbox
from sandbox.messaging import MessagingSandbox
from sandbox.monitoring import MonitoringSandbox
from sandbox.payment import PaymentSandbox

PROVIDERS: dict[str, type[SandboxProvider]] = {cls.name: cls for cls in sorted(
    (CarrierSandbox, PaymentSandbox, BankSandbox, KycSandbox, LogisticsSandbox, MessagingSandbox, MonitoringSandbox),
    key=lambda cls: PROVIDER_NAMES.index(cls.name))}
READY_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 5.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m sandbox",
                                     description="外部連携サンドボックス / local stand-ins for the external providers")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--base-port", type=int, default=9100,
                        help=f"first port; providers use base+0..base+{len(PROVIDERS) - 1} in the order "
                             f"{', '.join(PROVIDERS)}")
    parser.add_argument("--smtp-port", type=int, help="messaging SMTP port (default base+7)")
    parser.add_argument("--only", action="append", default=[],
                        help="start only these providers (repeatable or comma-separated)")
    parser.add_argument("--webhook-base", default=os.environ.get("SANDBOX_WEBHOOK_BASE"),
                        help="webhooks go to {base}/{provider} (env SANDBOX_WEBHOOK_BASE)")
    parser.add_argument("--webhook-url", action="append", default=[], metavar="PROVIDER=URL",
                        help="webhook URL of one provider (repeatable)")
    parser.add_argument("--secrets-file", default=os.environ.get("SANDBOX_SECRETS_FILE"),
                        help="the installation's secrets (JSON: webhook_<provider>, line_channel_token)")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the process that started the sandbox dies (used by test fixtures)")
    parser.add_argument("--carrier-adopt-unknown-lines", action="store_true",
                        help="the carrier adopts lines it has never seen (demo on an existing ledger)")
    parser.add_argument("--verbose", action="store_true", help="server and access logs")
    args = parser.parse_args(argv)
    only = [name.strip() for item in args.only for name in item.split(",") if name.strip()]
    unknown = set(only) - set(PROVIDERS)
    if unknown:
        parser.error(f"unknown providers: {', '.join(sorted(unknown))} (known: {', '.join(PROVIDERS)})")
    args.only = only or list(PROVIDERS)
    explicit = {}
    for item in args.webhook_url:
        name, sep, url = item.partition("=")
        if not sep or name not in PROVIDERS or not url:
            parser.error(f"--webhook-url needs PROVIDER=URL, got {item!r}")
        explicit[name] = url
    args.webhook_urls = explicit
    if args.smtp_port is None:
        args.smtp_port = args.base_port + len(PROVIDERS)
    return args


def webhook_url(args: argparse.Namespace, name: str) -> str | None:
    """Where provider `name` sends its webhooks (None: nowhere)."""
    if name in args.webhook_urls:
        return args.webhook_urls[name]
    from_env = os.environ.get(f"SANDBOX_WEBHOOK_URL_{name.upper()}")
    if from_env:
        return from_env
    return f"{args.webhook_base.rstrip('/')}/{name}" if args.webhook_base else None


def secrets_of(args: argparse.Namespace) -> dict[str, str]:
    """The secrets given: the secrets file, overridden by SANDBOX_WEBHOOK_SECRET / SANDBOX_LINE_TOKEN."""
    given: dict[str, str] = {}
    if args.secrets_file:
        given.update(json.loads(Path(args.secrets_file).read_text(encoding="utf-8")))
    if os.environ.get("SANDBOX_WEBHOOK_SECRET"):
        given.update({f"webhook_{name}": os.environ["SANDBOX_WEBHOOK_SECRET"] for name in PROVIDERS})
    if os.environ.get("SANDBOX_LINE_TOKEN"):
        given["line_channel_token"] = os.environ["SANDBOX_LINE_TOKEN"]
    return given


def build(args: argparse.Namespace) -> dict[str, tuple[SandboxProvider, int]]:
    """Create the selected providers with their ports and secrets."""
    given = secrets_of(args)
    built = {}
    for index, (name, cls) in enumerate(PROVIDERS.items()):
        if name not in args.only:
            continue
        port = args.base_port + index
        settings = ProviderSettings(webhook_url=webhook_url(args, name), public_url=f"http://{args.host}:{port}")
        if given.get(f"webhook_{name}"):
            settings.webhook_secret = given[f"webhook_{name}"]
        if cls is MessagingSandbox:
            provider = MessagingSandbox(settings, smtp_host=args.host, smtp_port=args.smtp_port,
                                        line_token=given.get("line_channel_token"))
        else:
            provider = cls(settings)
        if name == "carrier" and args.carrier_adopt_unknown_lines:
            provider.initial_config = replace(provider.initial_config, adopt_unknown_lines=True)
            provider.config = replace(provider.initial_config)
        built[name] = (provider, port)
    return built


def banner(args: argparse.Namespace, built: dict[str, tuple[SandboxProvider, int]], elapsed: float) -> str:
    """The start-up table."""
    rows = [("provider", "URL", "webhooks to")]
    for name, (provider, _port) in built.items():
        target = (provider.settings.webhook_url or "(kept, not sent)") if provider.sends_webhooks else "-"
        rows.append((name, provider.settings.public_url, target))
        if isinstance(provider, MessagingSandbox):
            rows.append(("  smtp", f"smtp://{args.host}:{provider.smtp_port}", "inbox: "
                         f"{provider.settings.public_url}/inbox"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["外部連携サンドボックス / provider sandbox"]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.append("secrets: " + (f"from {args.secrets_file}" if args.secrets_file else
                                "SANDBOX_WEBHOOK_SECRET / SANDBOX_LINE_TOKEN, else random for this run"))
    lines.append("faults: POST {URL}/_sandbox/faults   reset: POST {URL}/_sandbox/reset   "
                 "effects: GET {URL}/_sandbox/log")
    lines.append(f"sandbox ready in {elapsed:.2f} s (Ctrl+C / SIGTERM to stop)")
    return "\n".join(lines)


def busy_ports(args: argparse.Namespace, built: dict[str, tuple[SandboxProvider, int]]) -> list[str]:
    """The ports we need that something else already listens on, as "port (provider)".

    A port whose last connections are still in TIME_WAIT (the sandbox was just stopped and started again) is
    free: the probe binds as the servers do, with SO_REUSEADDR."""
    wanted = [(port, name) for name, (_provider, port) in built.items()]
    if "messaging" in built:
        wanted.append((args.smtp_port, "messaging smtp"))
    busy = []
    for port, name in wanted:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((args.host, port))
            except OSError:
                busy.append(f"{port} ({name})")
    return busy


async def _wait_ready(built: dict[str, tuple[SandboxProvider, int]], tasks: list[asyncio.Task]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    async with httpx.AsyncClient(timeout=1.0, trust_env=False) as client:
        for provider, _port in built.values():
            while True:
                failed = [t for t in tasks if t.done()]
                if failed:
                    exc = failed[0].exception() if not failed[0].cancelled() else None
                    reason = str(exc).splitlines()[0] if exc else "cancelled"
                    raise RuntimeError(f"a server stopped during start-up: {reason}")
                try:
                    if (await client.get(f"{provider.settings.public_url}/_sandbox/health")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{provider.name} did not answer within {READY_TIMEOUT_SECONDS:.0f} s")
                await asyncio.sleep(0.02)


async def _watch_parent(stop: asyncio.Event) -> None:
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    stop.set()


async def run(args: argparse.Namespace) -> int:
    """Serve the selected providers until SIGTERM/SIGINT; 0 on a clean stop, 1 if start-up failed."""
    started = time.monotonic()
    built = build(args)
    busy = busy_ports(args, built)
    if busy:
        print(f"sandbox failed to start: ports in use: {', '.join(busy)}", file=sys.stderr, flush=True)
        return 1
    servers = [Server(provider.app(), address=args.host, port=port, interface=Interfaces.ASGI,
                      log_enabled=args.verbose, log_access=args.verbose, websockets=False, backlog=1024)
               for provider, port in built.values()]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    watcher = asyncio.create_task(_watch_parent(stop)) if args.exit_with_parent else None
    code = 0
    try:
        await _wait_ready(built, tasks)
        print(banner(args, built, time.monotonic() - started), flush=True)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            print("a provider server stopped unexpectedly", file=sys.stderr, flush=True)
            code = 1
        stopper.cancel()
    except (RuntimeError, OSError) as exc:
        print(f"sandbox failed to start: {exc}", file=sys.stderr, flush=True)
        code = 1
    for provider, _port in built.values():
        provider.faults.closing.set()  # stalled (timeout-after-commit) requests must not hold the stop
    for server in servers:
        try:
            server.stop()
        except Exception:  # a server that never started has nothing to stop
            pass
    if watcher is not None:
        watcher.cancel()
    _done, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_SECONDS)
    for task in pending:
        task.cancel()
    print("sandbox stopped", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    exit_code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The servers are stopped and everything is flushed; leave now rather than let interpreter
    # finalisation race the embedded servers' native threads (seen as a rare SIGABRT under load).
    os._exit(exit_code)
