"""Small seeded 2-D data sets the lecture draws: concentric rings, XOR, two moons, a square."""

from __future__ import annotations

import numpy as np

__all__ = ["rings", "two_moons", "uniform_square", "xor"]


def rings(
    n: int, rng: np.random.Generator, *, radii: tuple[float, float] = (1.0, 2.0), noise: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """Two classes on concentric rings: class 0 near radius ``radii[0]``, class 1 near ``radii[1]``.

    Parameters
    ----------
    n : int
        Number of points, split evenly between the classes.
    rng : numpy.random.Generator
    radii : (inner, outer)
    noise : float
        Standard deviation of the radius around each ring.

    Returns
    -------
    X : ndarray, shape (n, 2), float64
    y : ndarray, shape (n,), int64 in {0, 1}
    """
    y = np.arange(n) % 2
    radius = np.asarray(radii, dtype=float)[y] + noise * rng.standard_normal(n)
    angle = rng.uniform(-np.pi, np.pi, n)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return X, y.astype(np.int64)


def xor(n: int, rng: np.random.Generator, *, spread: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: four Gaussian blobs at ``(+-1, +-1)``; class 1 where the signs differ.

    Returns
    -------
    X : ndarray, shape (n, 2), float64
    y : ndarray, shape (n,), int64 in {0, 1}
    """
    corner = np.arange(n) % 4
    signs = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=float)[corner]
    X = signs + spread * rng.standard_normal((n, 2))
    y = (corner >= 2).astype(np.int64)
    return X, y


def two_moons(n: int, rng: np.random.Generator, *, noise: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles with Gaussian noise (class 0 upper, class 1 lower).

    Returns
    -------
    X : ndarray, shape (n, 2), float64
    y : ndarray, shape (n,), int64 in {0, 1}
    """
    y = np.arange(n) % 2
    t = rng.uniform(0.0, np.pi, n)
    upper = np.column_stack([np.cos(t), np.sin(t)])
    lower = np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)])
    X = np.where(y[:, None] == 0, upper, lower) + noise * rng.standard_normal((n, 2))
    return X, y.astype(np.int64)


def uniform_square(n: int, rng: np.random.Generator, half_width: float = 3.0) -> np.ndarray:
    """``n`` points drawn uniformly from the square ``[-half_width, half_width]**2``, shape (n, 2)."""
    return rng.uniform(-half_width, half_width, (n, 2))
