# Developer shortcuts; README.md gives the two commands a new machine needs.
PY := .venv/bin/python

.PHONY: setup train test lint format graph bench fuzz notebook

setup:
	bash scripts/setup.sh

train: setup
	.venv/bin/tensorgrad-train

test: setup
	$(PY) -m pytest

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

graph:
	$(PY) -m tensorgrad.cli.draw --out graph.svg --grad-norm

bench:
	$(PY) benchmarks/mlp_epoch.py
	$(PY) benchmarks/op_overhead.py

# The readers of hostile files (IDX, checkpoints, images) against thousands of mutated files each, under a
# memory and a time limit per input; a short run of the same is part of the tests.
fuzz:
	$(PY) tests/fuzz/harness.py --examples 3000

# The notebook tour with its outputs, for reading (git-ignored; the tour itself is stored without outputs).
notebook: setup
	$(PY) scripts/run_notebook.py examples/tour.ipynb examples/tour.executed.ipynb
