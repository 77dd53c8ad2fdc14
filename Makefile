# Two commands for a newcomer (as root, on Debian/Ubuntu):
#   make demo   install everything, probe the simulated province network for 3 minutes, print its SLA report
#   make test   install everything, then run the whole test suite (what CI runs)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := influxdb fping iproute2 systemd chromium fonts-noto-cjk prometheus prometheus-alertmanager

.PHONY: setup system-deps demo test bench lint

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@# Debian's influxdb package starts a system influxd on :8086; tests run their own on free ports.
	@if command -v systemctl >/dev/null && systemctl is-active --quiet influxdb 2>/dev/null; then systemctl stop influxdb; fi
	@# Likewise prometheus (:9090) and prometheus-alertmanager (:9093, cluster :9094): tests start their own
	@# on free loopback ports, clustering off; the system services are not needed and only take ports.
	@for s in prometheus prometheus-alertmanager; do \
	  if command -v systemctl >/dev/null && systemctl is-active --quiet $$s 2>/dev/null; then systemctl stop $$s; fi; \
	done

$(PY):
	$(PYTHON) -m venv $(VENV)

# Installed once per change of pyproject.toml (the stamp), so `make demo` / `make test` start at once
# when nothing changed; the package itself is an editable install, so code edits need no reinstall.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip >/dev/null
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

setup: system-deps $(VENV)/.installed

demo: setup
	$(VENV)/bin/slaprobe demo --minutes 3

# The end-to-end tests (tests/e2e: a real daemon on the lab for ~3 minutes of scripted wall-clock time,
# mostly waiting) run in a second pytest beside the rest, so the suite takes the longer of the two, not
# the sum. Both logs are printed, the e2e one first; the exit status fails if either failed.
test: setup
	@mkdir -p .test-logs
	@$(PY) -m pytest -p no:cacheprovider tests/e2e > .test-logs/e2e.log 2>&1 & e2e=$$!; \
	$(PY) -m pytest -p no:cacheprovider --ignore=tests/e2e > .test-logs/main.log 2>&1; main=$$?; \
	wait $$e2e; e2e_rc=$$?; \
	echo "==== tests/e2e (exit $$e2e_rc)"; cat .test-logs/e2e.log; \
	echo "==== everything else (exit $$main)"; cat .test-logs/main.log; \
	test $$main -eq 0 -a $$e2e_rc -eq 0

bench: setup
	@cat bench/README.md

lint: setup
	$(VENV)/bin/ruff check slaprobe tests bench
	$(VENV)/bin/ruff format --check slaprobe tests bench
