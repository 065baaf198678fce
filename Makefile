# Two entry points on a fresh machine (Python 3.11 + pip): `make run` (the main job) and `make test`.
# Each creates .venv on first use and installs the pinned versions from constraints.txt.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test fuzz bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,render,plot]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m fastpg train

demo: $(STAMP)
	$(PY) -m fastpg demo

test: $(STAMP)
	$(PY) -m pytest -q
	$(PY) -m pytest bench -q --benchmark-disable  # smoke: every benchmark runs once, no timing asserted
	NUMBA_DISABLE_JIT=1 $(PY) -m pytest -q -m nojit

fuzz: $(STAMP)  # the hypothesis suite at 10x the cases CI runs (>= 100,000), random seeds
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q tests/fuzz

bench: $(STAMP)
	$(PY) -m pytest bench -q --benchmark-columns=median,iqr,rounds --benchmark-sort=name

clean:
	rm -rf $(VENV) .benchmarks
	find . -name __pycache__ -prune -exec rm -rf {} +
