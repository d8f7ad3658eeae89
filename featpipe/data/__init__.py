"""Data sources for featpipe: embedded digits, image folders and CIFAR-10's official batches.

Every source returns ``{split_name: Dataset}`` with uint8 images (N, H, W, C); see
`load_source`. Downloads, extracted archives and decoded arrays live under `cache_root()`.
"""

from featpipe.data.cache import cache_root
from featpipe.data.dataset import Dataset, check_trainable, stratified_split, subset
from featpipe.data.download import CIFAR10_MD5, CIFAR10_URL, download_cifar10
from featpipe.data.sources import SOURCES, describe, load_source, parse_spec

__all__ = [
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "SOURCES",
    "Dataset",
    "cache_root",
    "check_trainable",
    "describe",
    "download_cifar10",
    "load_source",
    "parse_spec",
    "stratified_split",
    "subset",
]
