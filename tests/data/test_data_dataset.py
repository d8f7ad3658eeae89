"""Dataset validation and fingerprint; stratified_split and subset."""

import numpy as np
import pytest

from featpipe.data import Dataset, stratified_split, subset
from featpipe.errors import DataError


def make_dataset(counts, shape=(4, 4, 3)) -> Dataset:
    """Images whose first two pixels encode their index, so every image is unique and traceable."""
    labels = np.concatenate([np.full(n, k) for k, n in enumerate(counts)]).astype(np.int64)
    images = np.zeros((labels.size, *shape), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(labels.size) // 256
    images[:, 0, 1, 0] = np.arange(labels.size) % 256
    return Dataset(images, labels, tuple(f"c{k}" for k in range(len(counts))), "synthetic")


def image_ids(ds: Dataset) -> np.ndarray:
    return ds.images[:, 0, 0, 0].astype(int) * 256 + ds.images[:, 0, 1, 0]


def test_an_empty_dataset_has_a_fingerprint_of_its_own():
    empty = make_dataset([3]).take(np.array([], dtype=np.intp), "none")
    assert len(empty) == 0 and len(empty.fingerprint()) == 64
    assert empty.fingerprint() != make_dataset([1]).fingerprint()


def test_fingerprint_is_stable_and_sensitive_to_every_part():
    ds = make_dataset([3, 4])
    same = Dataset(ds.images.copy(), ds.labels.copy(), ds.class_names, "another source")
    assert ds.fingerprint() == same.fingerprint()  # provenance text is not content
    assert len(ds.fingerprint()) == 64 and int(ds.fingerprint(), 16) >= 0
    assert ds.fingerprint() == ds.fingerprint()

    pixels = ds.images.copy()
    pixels[2, 3, 3, 2] ^= 1
    labels = ds.labels.copy()
    labels[0] = 1
    variants = [
        Dataset(pixels, ds.labels, ds.class_names, "x"),
        Dataset(ds.images, labels, ds.class_names, "x"),
        Dataset(ds.images, ds.labels, ("c0", "other"), "x"),
        Dataset(ds.images.reshape(7, 2, 8, 3), ds.labels, ds.class_names, "x"),
    ]
    prints = {v.fingerprint() for v in variants} | {ds.fingerprint()}
    assert len(prints) == 5


def test_dataset_arrays_are_read_only_views_of_contiguous_data():
    images = np.zeros((2, 3, 3, 1), dtype=np.uint8)
    ds = Dataset(images[:, :, ::-1], np.array([0, 1], dtype=np.int32), ["a", "b"], "x")
    assert ds.images.flags.c_contiguous and not ds.images.flags.writeable
    assert ds.labels.dtype == np.int64 and not ds.labels.flags.writeable
    assert ds.class_names == ("a", "b") and len(ds) == 2
    images[0, 0, 0, 0] = 1  # the caller's array stays writable
    with pytest.raises(ValueError):
        ds.images[0, 0, 0, 0] = 1


@pytest.mark.parametrize(
    "images, labels, names, match",
    [
        (np.zeros((2, 3, 3, 3), np.float32), [0, 1], ("a", "b"), "uint8"),
        (np.zeros((2, 3, 3), np.uint8), [0, 1], ("a", "b"), r"\(N, H, W, C\)"),
        (np.zeros((2, 3, 3, 4), np.uint8), [0, 1], ("a", "b"), "1 or 3 channels"),
        (np.zeros((2, 3, 3, 3), np.uint8), [0], ("a", "b"), "labels"),
        (np.zeros((2, 3, 3, 3), np.uint8), [0.5, 1.0], ("a", "b"), "labels"),
        (np.zeros((2, 3, 3, 3), np.uint8), [0, 2], ("a", "b"), r"0\.\.1"),
        (np.zeros((2, 3, 3, 3), np.uint8), [0, 1], ("a", "a"), "distinct"),
    ],
)
def test_dataset_rejects_bad_arrays(images, labels, names, match):
    with pytest.raises(DataError, match=match):
        Dataset(images, np.asarray(labels), names, "bad")


def test_stratified_split_keeps_class_proportions_and_is_disjoint():
    counts = [50, 20, 7, 2, 1]
    ds = make_dataset(counts)
    train, val = stratified_split(ds, 0.25, seed=3)
    ids_train, ids_val = image_ids(train), image_ids(val)
    assert not set(ids_train) & set(ids_val)
    assert sorted(np.concatenate([ids_train, ids_val])) == list(range(len(ds)))
    # Labels travel with their images.
    np.testing.assert_array_equal(ds.labels[ids_train], train.labels)
    np.testing.assert_array_equal(ds.labels[ids_val], val.labels)
    val_counts = np.bincount(val.labels, minlength=5)
    assert list(val_counts) == [round(50 * 0.25), 5, 2, 1, 0]  # 7*0.25=1.75 -> 2; 2 -> clipped to 1
    assert list(np.bincount(train.labels, minlength=5)) == [38, 15, 5, 1, 1]
    assert train.class_names == val.class_names == ds.class_names
    assert "seed=3" in val.source and val.source.endswith(":val")


def test_stratified_split_every_class_with_two_images_in_both_parts():
    ds = make_dataset([2, 3, 2])
    for fraction in (0.01, 0.5, 0.99):
        train, val = stratified_split(ds, fraction, seed=0)
        assert set(train.labels) == set(val.labels) == {0, 1, 2}


def test_stratified_split_is_deterministic_per_seed():
    ds = make_dataset([40, 30])
    a = stratified_split(ds, 0.3, seed=11)[1]
    b = stratified_split(ds, 0.3, seed=11)[1]
    c = stratified_split(ds, 0.3, seed=12)[1]
    np.testing.assert_array_equal(image_ids(a), image_ids(b))
    assert a.fingerprint() == b.fingerprint()
    assert not np.array_equal(image_ids(a), image_ids(c))


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, "0.2", None])
def test_stratified_split_rejects_bad_fraction(fraction):
    with pytest.raises(DataError, match="val_fraction"):
        stratified_split(make_dataset([4, 4]), fraction, seed=0)


def test_subset_n_is_exact_stratified_and_deterministic():
    ds = make_dataset([60, 30, 10])
    small = subset(ds, n=21, seed=5)
    assert len(small) == 21
    # Quotas 12.6, 6.3, 2.1 -> floors 12, 6, 2 and the one left over goes to the largest remainder.
    assert list(np.bincount(small.labels, minlength=3)) == [13, 6, 2]
    ids = image_ids(small)
    assert len(set(ids)) == 21 and np.all(np.diff(ids) > 0)  # distinct, original order
    np.testing.assert_array_equal(ds.labels[ids], small.labels)
    np.testing.assert_array_equal(ids, image_ids(subset(ds, n=21, seed=5)))
    assert not np.array_equal(ids, image_ids(subset(ds, n=21, seed=6)))
    assert len(subset(ds, n=len(ds), seed=0)) == len(ds)


def test_subset_per_class_caps_each_class():
    ds = make_dataset([9, 2, 5])
    small = subset(ds, per_class=4, seed=0)
    assert list(np.bincount(small.labels, minlength=3)) == [4, 2, 4]
    np.testing.assert_array_equal(ds.labels[image_ids(small)], small.labels)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "exactly one"),
        ({"n": 3, "per_class": 1}, "exactly one"),
        ({"n": 0}, "n=0"),
        ({"n": 11}, "1..10"),
        ({"n": 2.5}, "n=2.5"),
        ({"per_class": 0}, "per_class=0"),
    ],
)
def test_subset_rejects_bad_sizes(kwargs, match):
    with pytest.raises(DataError, match=match):
        subset(make_dataset([5, 5]), seed=0, **kwargs)
