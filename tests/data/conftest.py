"""Fixtures for the data-source tests: a tiny image folder written fresh for each test."""

import http.server
import threading

import numpy as np
import pytest
from data_builders import QuietHandler, random_image, write_image


@pytest.fixture
def png_folder(tmp_path):
    """train/{cat,dog,eel} and test/{cat,dog} of 6x5 RGB PNGs; returns (root, {split: {class: [arrays]}})."""
    rng = np.random.default_rng(0)
    root = tmp_path / "pets"
    layout = {"train": {"cat": 3, "dog": 2, "eel": 2}, "test": {"dog": 2, "cat": 1}}
    written = {}
    for split, classes in layout.items():
        for cls, count in classes.items():
            for i in range(count):
                array = random_image(rng)
                write_image(root / split / cls / f"{i:03d}.png", array)
                written.setdefault(split, {}).setdefault(cls, []).append(array)
    return root, written


@pytest.fixture
def http_server():
    """Start HTTP servers on 127.0.0.1 (ephemeral ports); `serve(routes)` returns the base URL."""
    servers = []

    def serve(routes: dict) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
        server.routes = routes
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
