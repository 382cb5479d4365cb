# yizhan: `make run` sets everything up and serves; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
VENDOR := webui/static/vendor
PORT   ?= 5000

.PHONY: run test test-slow browser pdf-system backup-tools nginx-system deploy-try bench bench-scale bench-load check install install-dev assets translations layout clean

# The demo serves on this machine, so the QR posters and the API's links name this machine's
# address unless PUBLIC_BASE_URL says otherwise.
run: install assets translations
	$(PY) run.py demo
	PORT=$(PORT) PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://127.0.0.1:$(PORT)} $(PY) run.py serve

# Everything but the tests marked slow (the long versions of what `make test` already checks).
test: install-dev assets translations browser backup-tools
	$(PY) -m pytest -m "not slow" tests

test-slow: install-dev translations
	$(PY) -m pytest -m slow tests

# Debian packages installed when missing (as root, or through sudo): $(1) the packages wanted
# (found missing by the caller), $(2) what they are for, $(3) what happens without them.
define apt_install
	@need=$$(echo $(1)); \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	  else sudo="none"; fi; \
	  echo "installing $$need for $(strip $(2))"; \
	  if [ "$$sudo" = none ] || ! { $$sudo apt-get update -qq && \
	      $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; }; then \
	    echo "warning: could not install $$need (run as root: apt-get install $$need); $(strip $(3))" >&2; \
	  fi; \
	fi
endef

# The browser tests drive Debian's Chromium and need CJK fonts to draw Chinese: installed here when
# missing, so a fresh machine runs every test. If they cannot be installed the browser tests skip,
# which CI (the CI variable set) counts as a failure.
browser:
	$(call apt_install,$$(command -v chromium >/dev/null 2>&1 || echo chromium) \
	  $$(fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || echo fonts-noto-cjk),the browser tests,\
	  the browser tests will be skipped and fail in CI)

# The judicial-confirmation dossier is rendered to PDF on the server by WeasyPrint, which loads
# Pango (libpango-1.0-0, libpangoft2-1.0-0) and draws Chinese with Debian's fonts-noto-cjk.
pdf-system:
	$(call apt_install,$$(ldconfig -p 2>/dev/null | grep -q "libpango-1.0.so.0" || echo libpango-1.0-0) \
	  $$(ldconfig -p 2>/dev/null | grep -q "libpangoft2-1.0.so.0" || echo libpangoft2-1.0-0) \
	  $$(fc-list 2>/dev/null | grep -qi "Noto Serif CJK" || echo fonts-noto-cjk),the court dossier (PDF),\
	  dossiers cannot be made until they are)

# deploy/backup.sh and restore.sh use the databases' own tools (tests/test_backup.py tries them):
# sqlite3, and PostgreSQL's client (pg_dump, pg_restore, psql).
backup-tools:
	$(call apt_install,$$(command -v sqlite3 >/dev/null 2>&1 || echo sqlite3) \
	  $$(command -v pg_dump >/dev/null 2>&1 || echo postgresql-client),backups (deploy/backup.sh),\
	  backups cannot be made or restored and their test fails)

# Debian's nginx, for `make deploy-try`.
nginx-system:
	$(call apt_install,$$(command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || echo nginx),\
	  trying deploy/ on this machine,make deploy-try cannot run)

# deploy/ tried on this machine on loopback (deploy/README.md, "Trying it here"): nginx with the
# site's config in front of two web servers and a worker, a fresh PostgreSQL database deploy_try
# (DEPLOY_PG, default the local server), make bench-load through nginx, then everything is taken
# down. DRILLS="kill-web restart-db" adds the fault drills; DEPLOY_ARGS passes more options.
deploy-try: install-dev assets translations nginx-system
	$(PY) deploy/try_local.py $(if $(DEPLOY_PG),--pg $(DEPLOY_PG)) $(foreach d,$(DRILLS),--drill $(d)) $(DEPLOY_ARGS)

bench: install-dev
	$(PY) -m bench

# A county at scale: by default 1,000,000 cases on PostgreSQL, in a database the bench creates on
# the local server and drops at the end (it says why and stops if there is no server);
# BENCH_DB=sqlite (a file in a temporary folder, removed at the end) or BENCH_DB=postgresql://...
# (created if missing, dropped at the end if created); CASES sets the number of cases.
BENCH_DB ?= postgresql
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432/yizhan_bench_scale
CASES ?= $(if $(filter sqlite,$(BENCH_DB)),100000,1000000)
bench-scale: install-dev
	$(PY) -m bench.scale --cases $(CASES) $(if $(filter sqlite,$(BENCH_DB)),,--db $(if $(filter postgresql,$(BENCH_DB)),$(BENCH_PG),$(BENCH_DB)))

# 30 logged-in people working for 60 s against the product's own server (`run.py serve`) on a fresh
# PostgreSQL database (BENCH_DB=postgresql://... to name it; LOAD_ARGS="--think 1" and the rest passed on).
# BENCH_DB's default ("postgresql", for bench-scale) names no database: bench.load's own default then.
bench-load: install-dev
	$(PY) -m bench.load $(if $(filter postgresql://%,$(BENCH_DB)),--db $(BENCH_DB)) $(LOAD_ARGS)

# The check judges the diagrams' departments by the registry kept in the database.
check: install translations
	$(PY) run.py migrate
	$(PY) run.py check

install: $(VENV)/.installed pdf-system

install-dev: $(VENV)/.installed-dev pdf-system

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

# The Chinese catalogue (webui/translations/zh/LC_MESSAGES/messages.po) compiled for gettext; the
# .mo is built, not committed, so branches that add texts never conflict over a binary file.
CATALOGUE := webui/translations/zh/LC_MESSAGES/messages
translations: $(CATALOGUE).mo

$(CATALOGUE).mo: $(CATALOGUE).po | $(VENV)/.installed
	$(VENV)/bin/pybabel compile --domain messages --directory webui/translations --locale zh

# bpmn-js comes from the npm registry at set-up; nothing third-party is committed or fetched at run time.
assets: $(VENDOR)/.built

$(VENDOR)/.built: webui/package.json webui/package-lock.json
	cd webui && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp webui/node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js $(VENDOR)/
	cp webui/node_modules/bpmn-js/dist/bpmn-modeler.production.min.js $(VENDOR)/
	cp webui/node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/
	cp webui/node_modules/dmn-js/dist/dmn-modeler.production.min.js $(VENDOR)/
	mkdir -p $(VENDOR)/dmn
	cp -r webui/node_modules/dmn-js/dist/assets/. $(VENDOR)/dmn/
	cp -r webui/node_modules/bpmn-js/dist/assets/. $(VENDOR)/
	touch $@

# Draws a layout for diagrams written without one (bpmn-auto-layout; only the drawing is added).
layout: assets
	node webui/tools/layout.mjs bpmn/*.bpmn

clean:
	rm -rf $(VENV) webui/node_modules $(VENDOR) .pytest_cache
