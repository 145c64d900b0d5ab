#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for tensorgrad: the system packages (Graphviz's `dot`, the real
# Fashion-MNIST data set), then a virtual environment in .venv with tensorgrad installed editable and
# PyTorch, which the tests compare against.
# Safe to run again: what is already there is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(graphviz dataset-fashion-mnist)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
# Debian splits venv's pip bootstrap (ensurepip) into python3-venv.
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]} with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
# PyTorch is a reference the tests compare against (never a dependency of the library); a CPU build
.venv/bin/python -m pip install -q torch==2.13.0
echo "setup: ready (.venv)"
