"""Builders for tiny synthetic data sources: image files, tar archives, CIFAR-10 batches."""

from __future__ import annotations

import http.server
import io
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, array: np.ndarray, **save_kwargs) -> Path:
    """Save a uint8 (H, W) or (H, W, C) array with Pillow, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **save_kwargs)
    return path


def random_image(rng: np.random.Generator, shape=(6, 5, 3)) -> np.ndarray:
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """Write a .tar.gz holding exactly these members (data None for non-files)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def file_member(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info, data


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def tar_folder(folder: Path, archive: Path, arcname: str = ".") -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=arcname)
    return archive


CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar_folder(folder: Path, per_batch: int = 3, seed: int = 0, protocol: int = 4) -> dict:
    """Write cifar-10-batches-py-style pickles (official keys, bytes) with `per_batch` images each.

    Returns {"train": (rows, labels), "test": (rows, labels)} with rows uint8 (N, 3072).
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    expected = {"train": ([], [])}
    names = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    for name in names:
        rows = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
        batch = {
            b"batch_label": f"{name} of 6".encode(),
            b"labels": labels,
            b"data": rows,
            b"filenames": [f"img_{name}_{i}.png".encode() for i in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        if name == "test_batch":
            expected["test"] = (rows, np.array(labels))
        else:
            expected["train"][0].append(rows)
            expected["train"][1].extend(labels)
    expected["train"] = (np.concatenate(expected["train"][0]), np.array(expected["train"][1]))
    meta = {b"num_cases_per_batch": per_batch, b"label_names": [n.encode() for n in CIFAR_NAMES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return expected


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """Serves `server.routes`: bytes in full, or a `Truncated` body cut off mid-transfer."""

    def do_GET(self):
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        body, sent = (route.body, route.sent) if isinstance(route, Truncated) else (route, len(route))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:sent])
        self.wfile.flush()
        self.close_connection = True  # closing now leaves the client short of Content-Length

    def log_message(self, *args):  # keep test output quiet
        pass


@dataclass
class Truncated:
    body: bytes
    sent: int
