"""Fixtures for the data tests: an IDX encoder independent of the reader, synthetic Fashion-MNIST files,
a local HTTP server (127.0.0.1 only), and isolation from the user's environment and system data."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import tensorgrad.data.fashion_mnist as fashion_mnist

IDX_TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of `array`, written by hand from the format description (not by the code under test)."""
    array = np.asarray(array)
    header = struct.pack(">BBBB", 0, 0, IDX_TYPE_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def idx_bytes() -> Callable[[np.ndarray], bytes]:
    """`idx_bytes(array) -> bytes` of a raw IDX file."""
    return encode_idx


@dataclass
class SyntheticFashion:
    """Small Fashion-MNIST-shaped files: `arrays` and the `checksums` table (of the decompressed files)."""

    arrays: dict[str, np.ndarray]
    checksums: dict[str, str]


def write_synthetic_fashion(
    directory: Path, n_train: int = 20, n_test: int = 10, seed: int = 0, gz: bool = True
) -> SyntheticFashion:
    rng = np.random.default_rng(seed)
    arrays = {
        fashion_mnist.TRAIN_IMAGES: rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        fashion_mnist.TRAIN_LABELS: (np.arange(n_train) % 10).astype(np.uint8),
        fashion_mnist.TEST_IMAGES: rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        fashion_mnist.TEST_LABELS: (np.arange(n_test) % 10).astype(np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    checksums = {}
    for name, array in arrays.items():
        raw = encode_idx(array)
        checksums[name] = hashlib.sha256(raw).hexdigest()
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / name).write_bytes(raw)
    return SyntheticFashion(arrays=arrays, checksums=checksums)


@pytest.fixture
def make_fashion() -> Callable[..., SyntheticFashion]:
    """`make_fashion(directory, n_train=20, n_test=10, seed=0, gz=True)` writes the four files there."""
    return write_synthetic_fashion


@pytest.fixture
def isolated_data_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No $TENSORGRAD_DATA, an empty cache dir under tmp_path (returned), and a default mirror that
    refuses connections, so a test can never read the user's data or reach the internet.
    Undone by monkeypatch after each test."""
    monkeypatch.delenv("TENSORGRAD_DATA", raising=False)
    cache_home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    monkeypatch.setattr(fashion_mnist, "DEFAULT_MIRROR", f"http://127.0.0.1:{closed_port()}/")
    return cache_home / "tensorgrad" / "fashion-mnist"


@pytest.fixture
def no_debian_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the Debian data dir at an empty (nonexistent) directory, returned."""
    missing = tmp_path / "no-debian-copy"
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DATA_DIR", missing)
    return missing


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound then released, so connecting is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _LocalHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.directory = directory
        self.requests: list[str] = []
        self.truncate_next: dict[str, int] = {}
        self.release_hanging = threading.Event()
        self.lock = threading.Lock()


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: _LocalHTTPServer

    def __init__(self, request, client_address, server: _LocalHTTPServer) -> None:
        super().__init__(request, client_address, server, directory=str(server.directory))

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append(self.path)
            truncate = self.server.truncate_next.get(self.path, 0) > 0
            if truncate:
                self.server.truncate_next[self.path] -= 1
        if self.path.startswith("/hang"):
            self.server.release_hanging.wait(timeout=10)
            return
        if self.path.startswith("/status/"):
            self.send_error(int(self.path.split("/")[2]))
            return
        if truncate:
            # Promise the whole file, send half of it, then close the connection.
            body = (self.server.directory / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@dataclass
class LocalServer:
    """A running HTTP server on 127.0.0.1 serving `directory` at `url` (ending with '/').

    `requests` lists the paths requested; `truncate_next["/name"] = k` makes the next k responses for that
    path promise the full Content-Length but stop halfway; any path under /hang never answers, and
    /status/<code>/... answers with that HTTP error status."""

    directory: Path
    url: str
    requests: list[str]
    truncate_next: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def http_server(tmp_path: Path):
    directory = tmp_path / "served"
    directory.mkdir()
    server = _LocalHTTPServer(directory)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield LocalServer(
            directory=directory,
            url=f"http://{host}:{port}/",
            requests=server.requests,
            truncate_next=server.truncate_next,
        )
    finally:
        server.release_hanging.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
