from __future__ import annotations

import gzip
import hashlib

import pytest

import tensorgrad.data.download as download_module
from tensorgrad.data import DownloadError, download_file

from .conftest import closed_port

PAYLOAD = b"\x00\x00\x08\x01\x00\x00\x00\x05" + bytes(range(5))  # a tiny IDX file
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def served(http_server):
    """The server with `data.gz` (gzip of PAYLOAD) and `plain.bin` (PAYLOAD) in it."""
    (http_server.directory / "data.gz").write_bytes(gzip.compress(PAYLOAD))
    (http_server.directory / "plain.bin").write_bytes(PAYLOAD)
    return http_server


@pytest.fixture
def dest_dir(tmp_path):
    directory = tmp_path / "downloads"
    directory.mkdir()
    return directory


def test_download_error_is_an_os_error():
    error = DownloadError("http://x/: HTTP 404", "http://x/")
    assert isinstance(error, OSError)
    assert str(error) == "http://x/: HTTP 404"
    assert error.url == "http://x/"


def test_good_download_verifies_decompressed_content_and_lands(served, dest_dir):
    dest = dest_dir / "data.gz"
    result = download_file(served.url + "data.gz", dest, sha256=PAYLOAD_SHA256, progress=False)
    assert result == dest
    assert gzip.decompress(dest.read_bytes()) == PAYLOAD
    assert sorted(p.name for p in dest_dir.iterdir()) == ["data.gz"]  # no temporary file left
    assert dest.stat().st_mode & 0o777 == 0o644


def test_checksum_of_compressed_bytes_when_asked(served, dest_dir):
    compressed_sha256 = hashlib.sha256((served.directory / "data.gz").read_bytes()).hexdigest()
    dest = dest_dir / "data.gz"
    download_file(
        served.url + "data.gz", dest, sha256=compressed_sha256, decompress_for_check=False, progress=False
    )
    assert dest.is_file()


def test_uncompressed_content_and_nested_destination(served, tmp_path):
    dest = tmp_path / "a" / "b" / "plain.bin"
    download_file(served.url + "plain.bin", dest, sha256=PAYLOAD_SHA256.upper(), progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_without_checksum(served, dest_dir):
    download_file(served.url + "plain.bin", dest_dir / "plain.bin", progress=False)
    assert (dest_dir / "plain.bin").read_bytes() == PAYLOAD


def test_progress_bar_goes_to_stderr(served, dest_dir, capsys):
    download_file(served.url + "data.gz", dest_dir / "data.gz", sha256=PAYLOAD_SHA256, progress=True)
    captured = capsys.readouterr()
    assert "data.gz" in captured.err
    assert captured.out == ""


def test_bad_checksum_raises_leaves_nothing_and_is_not_retried(served, dest_dir):
    url = served.url + "data.gz"
    wrong = "0" * 64
    with pytest.raises(DownloadError) as info:
        download_file(url, dest_dir / "data.gz", sha256=wrong, retries=2, retry_delay=0, progress=False)
    message = str(info.value)
    assert url in message
    assert f"expected {wrong}, got {PAYLOAD_SHA256}" in message
    assert list(dest_dir.iterdir()) == []
    assert served.requests == ["/data.gz"]


def test_gzip_that_does_not_decompress(served, dest_dir):
    (served.directory / "broken.gz").write_bytes(gzip.compress(PAYLOAD)[:-6])
    url = served.url + "broken.gz"
    with pytest.raises(DownloadError, match="not a valid gzip stream") as info:
        download_file(url, dest_dir / "broken.gz", sha256=PAYLOAD_SHA256, progress=False)
    assert url in str(info.value)
    assert list(dest_dir.iterdir()) == []


def test_truncated_response_raises_and_leaves_nothing(served, dest_dir):
    size = (served.directory / "data.gz").stat().st_size
    served.truncate_next["/data.gz"] = 1
    url = served.url + "data.gz"
    with pytest.raises(DownloadError) as info:
        download_file(url, dest_dir / "data.gz", sha256=PAYLOAD_SHA256, retries=0, progress=False)
    message = str(info.value)
    assert url in message
    assert f"received {size // 2} bytes, expected {size}" in message
    assert list(dest_dir.iterdir()) == []


def test_truncated_response_is_retried(served, dest_dir):
    served.truncate_next["/data.gz"] = 1
    download_file(
        served.url + "data.gz", dest_dir / "data.gz", sha256=PAYLOAD_SHA256, retry_delay=0, progress=False
    )
    assert served.requests == ["/data.gz", "/data.gz"]
    assert gzip.decompress((dest_dir / "data.gz").read_bytes()) == PAYLOAD
    assert sorted(p.name for p in dest_dir.iterdir()) == ["data.gz"]


def test_gives_up_after_the_retries(served, dest_dir):
    served.truncate_next["/data.gz"] = 3
    with pytest.raises(DownloadError, match="gave up after 3 attempts"):
        download_file(served.url + "data.gz", dest_dir / "data.gz", retries=2, retry_delay=0, progress=False)
    assert len(served.requests) == 3
    assert list(dest_dir.iterdir()) == []


def test_http_404_names_url_and_status_and_is_not_retried(served, dest_dir):
    url = served.url + "missing.gz"
    with pytest.raises(DownloadError) as info:
        download_file(url, dest_dir / "missing.gz", retries=2, retry_delay=0, progress=False)
    assert str(info.value).startswith(f"{url}: HTTP 404")
    assert info.value.url == url
    assert served.requests == ["/missing.gz"]
    assert list(dest_dir.iterdir()) == []


def test_server_errors_are_retried(served, dest_dir):
    url = served.url + "status/503/data.gz"
    with pytest.raises(DownloadError) as info:
        download_file(url, dest_dir / "data.gz", retries=1, retry_delay=0, progress=False)
    assert str(info.value).startswith(f"{url}: HTTP 503")
    assert "gave up after 2 attempts" in str(info.value)
    assert served.requests == ["/status/503/data.gz"] * 2
    assert list(dest_dir.iterdir()) == []


def test_connection_refused(dest_dir):
    url = f"http://127.0.0.1:{closed_port()}/data.gz"
    with pytest.raises(DownloadError) as info:
        download_file(url, dest_dir / "data.gz", retries=1, retry_delay=0, progress=False)
    message = str(info.value)
    assert message.startswith(f"{url}: connection failed")
    assert "refused" in message.lower()
    assert list(dest_dir.iterdir()) == []


def test_timeout(served, dest_dir):
    url = served.url + "hang/data.gz"
    with pytest.raises(DownloadError, match="timed out") as info:
        download_file(url, dest_dir / "data.gz", timeout=0.2, retries=0, progress=False)
    assert url in str(info.value)
    assert list(dest_dir.iterdir()) == []


def test_failure_keeps_an_existing_destination_untouched(served, dest_dir):
    dest = dest_dir / "data.gz"
    dest.write_bytes(b"previous")
    with pytest.raises(DownloadError):
        download_file(served.url + "data.gz", dest, sha256="0" * 64, progress=False)
    assert dest.read_bytes() == b"previous"
    assert sorted(p.name for p in dest_dir.iterdir()) == ["data.gz"]


def test_keyboard_interrupt_removes_the_temporary_file(served, dest_dir, monkeypatch):
    def interrupted(*args, **kwargs):
        # By now the body sits in the temporary file: exactly the half file that must not survive.
        assert len(list(dest_dir.iterdir())) == 1
        raise KeyboardInterrupt

    monkeypatch.setattr(download_module, "_check_sha256", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download_file(served.url + "data.gz", dest_dir / "data.gz", sha256=PAYLOAD_SHA256, progress=False)
    assert list(dest_dir.iterdir()) == []


def test_negative_retries_rejected(dest_dir):
    with pytest.raises(ValueError, match="retries"):
        download_file("http://127.0.0.1:1/x", dest_dir / "x", retries=-1)
