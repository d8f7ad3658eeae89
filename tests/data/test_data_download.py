"""download_cifar10 against a local HTTP server: success, checksum mismatch, interrupted transfer."""

import hashlib
import socket

import pytest
from data_builders import Truncated

from featpipe.data import CIFAR10_MD5, CIFAR10_URL, download_cifar10
from featpipe.errors import DataError

PAYLOAD = bytes(range(256)) * 400  # 100 kB, enough for several read chunks
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_official_source_is_pinned():
    assert CIFAR10_URL == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert CIFAR10_MD5 == "c58f30108f718f92721af3b95e74349a"


def test_download_success_then_reuse_without_network(http_server, isolated_cache):
    url = http_server({"/c.tar.gz": PAYLOAD}) + "/c.tar.gz"
    path = download_cifar10(url=url, md5=PAYLOAD_MD5, progress=False)
    assert path == isolated_cache / "cifar10" / "cifar-10-python.tar.gz"
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in path.parent.iterdir()) == ["cifar-10-python.tar.gz"]
    # A verified file is reused; the dead URL proves no request is made.
    assert download_cifar10(url=unused_port_url(), md5=PAYLOAD_MD5, progress=False) == path


def test_checksum_mismatch_keeps_nothing(http_server, isolated_cache, tmp_path):
    url = http_server({"/c.tar.gz": PAYLOAD}) + "/c.tar.gz"
    with pytest.raises(DataError, match=r"checksum mismatch .* expected md5 0{32}; nothing was kept"):
        download_cifar10(tmp_path / "cache", url=url, md5="0" * 32, progress=False)
    assert list((tmp_path / "cache" / "cifar10").iterdir()) == []


def test_interrupted_transfer_keeps_no_partial_file(http_server, tmp_path):
    url = http_server({"/c.tar.gz": Truncated(PAYLOAD, sent=30_000)}) + "/c.tar.gz"
    target = tmp_path / "cache" / "cifar10" / "cifar-10-python.tar.gz"
    with pytest.raises(DataError, match=rf"could not download CIFAR-10 from {url}.*Copy cifar-10-python\.tar\.gz .* to {target}"):
        download_cifar10(tmp_path / "cache", url=url, md5=PAYLOAD_MD5, progress=False)
    assert list(target.parent.iterdir()) == []


def test_unreachable_server_says_what_to_do(tmp_path):
    target = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    with pytest.raises(DataError, match=rf"Offline\? Copy cifar-10-python\.tar\.gz \(md5 {PAYLOAD_MD5}\) to {target}, or set data\.root"):
        download_cifar10(tmp_path, url=unused_port_url(), md5=PAYLOAD_MD5, progress=False)
    assert not target.exists()


def test_http_error_is_a_data_error(http_server, tmp_path):
    url = http_server({}) + "/missing.tar.gz"
    with pytest.raises(DataError, match="HTTPError"):
        download_cifar10(tmp_path, url=url, md5=PAYLOAD_MD5, progress=False)


def unused_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/c.tar.gz"
