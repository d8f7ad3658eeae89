"""FeatureCache: hits, invalidation, corrupt entries and concurrent writers of one key."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest

from featpipe.features import HOG, BagOfVisualWords, ColorHistogram, FeatureConcat
from featpipe.features.cache import FeatureCache, cached_features, extractor_description


def run(extractor, images, cache, seed=0):
    splits = {"train": (images, "fp-train"), "val": (images[:3], "fp-val")}
    result = cached_features(extractor, images, "fp-train", splits, cache, seed)
    return result.fitted, result.features, result.seconds, result.hits


def test_key_is_stable_and_sensitive():
    a = FeatureCache.key("x", {"b": 1, "a": (1, 2)}, np.int64(3))
    assert a == FeatureCache.key("x", {"a": [1, 2], "b": 1}, 3)
    assert a != FeatureCache.key("x", {"a": [1, 2], "b": 2}, 3)
    assert len(a) == 64
    with pytest.raises(TypeError, match="JSON-able"):
        FeatureCache.key(object())


def test_description_covers_nested_settings_and_code_version():
    concat = FeatureConcat(extractors=[("hog", HOG())])
    description = extractor_description(concat)
    assert description["params"]["extractors"][0][1]["params"]["orientations"] == 9
    assert description["params"]["extractors"][0][1]["code_version"] == HOG.CODE_VERSION
    changed = extractor_description(concat.set_params(hog__orientations=8))
    assert changed != description


def test_second_run_hits_and_gives_identical_features(tmp_path, photo_tiles):
    cache = FeatureCache(tmp_path)
    extractor = FeatureConcat(extractors=[("hog", HOG()), ("color", ColorHistogram())])
    fitted, first, timings, hits = run(extractor, photo_tiles, cache)
    assert hits == {"fit": False, "train": False, "val": False}
    assert set(timings) == {"fit", "train", "val"}
    assert not hasattr(extractor, "mean_")  # the given extractor is left unfitted
    fitted2, second, _, hits2 = run(extractor, photo_tiles, cache)
    assert hits2 == {"fit": True, "train": True, "val": True}
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
        assert second[name].dtype == np.float32
    np.testing.assert_array_equal(fitted2.transform(photo_tiles[:2]), fitted.transform(photo_tiles[:2]))


def test_changed_setting_seed_or_data_misses(tmp_path, photo_tiles):
    cache = FeatureCache(tmp_path)
    run(HOG(), photo_tiles, cache)
    assert run(HOG(), photo_tiles, cache)[3]["val"] is True
    assert run(HOG(orientations=8), photo_tiles, cache)[3] == {"fit": False, "train": False, "val": False}
    assert run(HOG(), photo_tiles, cache, seed=1)[3]["fit"] is False
    splits = {"val": (photo_tiles[:3], "fp-other")}
    assert cached_features(HOG(), photo_tiles, "fp-train", splits, cache, 0).hits == {"fit": True, "val": False}


def test_without_cache_just_computes(photo_tiles):
    fitted, features, timings, hits = run(ColorHistogram(), photo_tiles, None)
    np.testing.assert_array_equal(features["val"], ColorHistogram().fit(photo_tiles).transform(photo_tiles[:3]))
    assert hits == {"fit": False, "train": False, "val": False}


def test_corrupt_entries_are_misses_and_get_replaced(tmp_path, photo_tiles):
    cache = FeatureCache(tmp_path)
    _, first, _, _ = run(HOG(), photo_tiles, cache)
    for path in (tmp_path / "features").glob("*.npy"):
        path.write_bytes(path.read_bytes()[:100])  # torn
    for path in (tmp_path / "estimators").glob("*.npz"):
        path.write_bytes(b"garbage")
    _, again, _, hits = run(HOG(), photo_tiles, cache)
    assert hits == {"fit": False, "train": False, "val": False}
    np.testing.assert_array_equal(again["train"], first["train"])
    assert run(HOG(), photo_tiles, cache)[3] == {"fit": True, "train": True, "val": True}


def test_bad_key_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not a cache key"):
        FeatureCache(tmp_path).load_features("../../etc/passwd")


def _write_many(root: str, key: str, value: float, times: int) -> None:
    cache = FeatureCache(root)
    for _ in range(times):
        cache.save_features(key, np.full((200, 300), value, dtype=np.float32))


def test_concurrent_writers_never_leave_a_torn_file(tmp_path):
    cache = FeatureCache(tmp_path)
    key = FeatureCache.key("concurrent")
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_many, args=(str(tmp_path), key, float(v), 15)) for v in (1, 2)]
    threads = [threading.Thread(target=_write_many, args=(str(tmp_path), key, 3.0, 15)) for _ in range(2)]
    for worker in writers + threads:
        worker.start()
    seen = set()
    while any(w.is_alive() for w in writers + threads):
        array = cache.load_features(key)
        if array is not None:
            assert array.shape == (200, 300)
            values = np.unique(array)
            assert len(values) == 1  # one writer's complete array, never a mix
            seen.add(float(values[0]))
    for worker in writers + threads:
        worker.join()
    assert all(w.exitcode == 0 for w in writers)
    final = cache.load_features(key)
    assert final is not None and len(np.unique(final)) == 1
    assert not list((tmp_path / "features").glob(".*tmp"))  # no temporary files left behind


def test_concurrent_estimator_writers(tmp_path, photo_tiles):
    cache = FeatureCache(tmp_path)
    key = FeatureCache.key("estimator")
    small = BagOfVisualWords(n_words=4, patch_size=4, n_patches=200, kmeans_iter=5, random_state=0).fit(photo_tiles)
    other = HOG().fit(photo_tiles)
    threads = [threading.Thread(target=lambda e=e: [cache.save_estimator(key, e) for _ in range(10)]) for e in (small, other)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        loaded = cache.load_estimator(key)
        assert loaded is None or type(loaded) in (BagOfVisualWords, HOG)
    for thread in threads:
        thread.join()
    loaded = cache.load_estimator(key)
    assert type(loaded) in (BagOfVisualWords, HOG)
    reference = small if isinstance(loaded, BagOfVisualWords) else other
    np.testing.assert_array_equal(loaded.transform(photo_tiles[:2]), reference.transform(photo_tiles[:2]))
