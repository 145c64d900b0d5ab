# Developer shortcuts; README.md gives the two commands a new machine needs.
PY := .venv/bin/python

.PHONY: setup train test lint format graph bench

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
