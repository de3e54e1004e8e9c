# 通信サービス管理 — the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PORT ?= 3000
# the address notices and mails link to (a customer opens them in a browser)
export TELECOM_APP_URL ?= http://localhost:$(PORT)
STAMP := $(VENV)/.installed

export PATH := $(BIN):$(PATH)
export PYTHONPATH := $(CURDIR)
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export NPM_CONFIG_REGISTRY ?= $(shell npm config get registry 2>/dev/null)

.PHONY: run test bench migrate seed secrets system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian packages the tests drive: headless Chromium, a PostgreSQL server, a Redis server and the invoice PDF's
# Japanese font (IPAexGothic, embedded in every 適格請求書).
system-deps:
	@if ! command -v chromium >/dev/null || ! test -x /usr/lib/postgresql/15/bin/initdb || ! test -d /usr/share/fonts/opentype/noto || ! command -v redis-server >/dev/null || ! test -f /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk fonts-ipaexfont-gothic postgresql redis-server >/dev/null; \
	fi

migrate: $(STAMP)
	$(BIN)/alembic upgrade head

# Per-installation secrets (webhook signing per provider, LINE token): generated on first start,
# owner-only, shared with the provider sandbox; the app and the worker refuse to start without them.
secrets: $(STAMP)
	mkdir -p data && chmod 700 data  # the ledger, its keys and secrets: readable by their owner only
	$(BIN)/python -m services.platform.installation_secrets ensure

seed: migrate secrets
	$(BIN)/python -m demo.staff provision
	$(BIN)/python -m demo.seed --if-empty
	$(BIN)/python -m demo.customers provision

SANDBOX_PORT ?= 9100
export TELECOM_CARRIER_URL ?= http://127.0.0.1:$(SANDBOX_PORT)
export TELECOM_PAYMENT_URL ?= http://127.0.0.1:$(shell expr $(SANDBOX_PORT) + 1)
export TELECOM_BANK_URL ?= http://127.0.0.1:$(shell expr $(SANDBOX_PORT) + 2)
export TELECOM_KYC_URL ?= http://127.0.0.1:$(shell expr $(SANDBOX_PORT) + 3)
export TELECOM_LOGISTICS_URL ?= http://127.0.0.1:$(shell expr $(SANDBOX_PORT) + 4)
export TELECOM_MESSAGING_URL ?= http://127.0.0.1:$(shell expr $(SANDBOX_PORT) + 5)
export TELECOM_SMTP_PORT ?= $(shell expr $(SANDBOX_PORT) + 7)

# Embedded mode: the provider sandbox, one Celery worker (with beat; broker in data/broker.db,
# no server) and the app on one port; Ctrl+C stops all three.
run: system-deps seed
	@echo ""
	@echo "  通信サービス管理: http://localhost:$(PORT)/login   (Ctrl+C で停止)"
	@echo "  マイページ（お客様用）: http://localhost:$(PORT)/my/login"
	@echo "  外部連携サンドボックス: http://localhost:$(SANDBOX_PORT)/ (キャリア) ほか"
	@echo ""
	trap 'kill 0' EXIT; \
	$(BIN)/python -m sandbox --base-port $(SANDBOX_PORT) --carrier-adopt-unknown-lines --secrets-file "$${TELECOM_SECRETS_FILE:-data/secrets.json}" \
		--webhook-base http://127.0.0.1:$(PORT)/api/webhooks & \
	$(BIN)/python scripts/sandbox_load_ledger.py --carrier $(TELECOM_CARRIER_URL); \
	$(BIN)/celery -A services.tasks.celery_app worker -B --pool=threads --concurrency=4 --loglevel=warning \
		-s data/celery-beat-schedule & \
	$(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-host 0.0.0.0

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q
	TELECOM_E2E_MODE=scale-out $(BIN)/python -m pytest -q tests/e2e

bench: $(STAMP) system-deps secrets
	$(BIN)/python scripts/bench_search.py
	$(BIN)/python scripts/bench_carrier_report.py
	$(BIN)/python scripts/bench_billing.py
	$(BIN)/python scripts/bench_invoice_pdf.py
	$(BIN)/python scripts/bench_chaos.py
