"""scikit-learn's bundled digits data set at any input resolution, with a fixed split.

The 8x8 images are resized with area averaging (down) or bilinear interpolation (up), in NumPy,
so training (PyTorch) and every backend at inference see exactly the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NUM_CLASSES = 10
TEST_FRACTION = 0.2
SPLIT_SEED = 0
CALIBRATION_SIZE = 128
CHECK_SIZE = 16  # inputs on which every build is compared with the reference outputs


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray  # (N, 1, r, r) float32, normalized
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def x_calibration(self) -> np.ndarray:
        return self.x_train[:CALIBRATION_SIZE]

    @property
    def x_check(self) -> np.ndarray:
        return self.x_test[:CHECK_SIZE]


@lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images (N, 8, 8) in [0, 16], labels, and the fixed test mask (stratified, seeded)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float64)
    labels = digits.target.astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    test = np.zeros(len(labels), dtype=bool)
    for cls in range(NUM_CLASSES):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        test[idx[: round(len(idx) * TEST_FRACTION)]] = True
    return images, labels, test


def interpolation_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights: area averaging when shrinking, bilinear (half-pixel) when growing."""
    m = np.zeros((n_out, n_in))
    scale = n_in / n_out
    for i in range(n_out):
        if n_out <= n_in:
            start, end = i * scale, (i + 1) * scale
            for j in range(int(np.floor(start)), int(np.ceil(end))):
                m[i, j] = min(end, j + 1) - max(start, j)
            m[i] /= m[i].sum()
        else:
            src = min(max((i + 0.5) * scale - 0.5, 0.0), n_in - 1)
            j0 = int(np.floor(src))
            w = src - j0
            m[i, j0] += 1 - w
            m[i, min(j0 + 1, n_in - 1)] += w
    return m


def resize(images: np.ndarray, resolution: int) -> np.ndarray:
    """(N, h, w) -> (N, r, r)."""
    rows = interpolation_matrix(images.shape[1], resolution)
    cols = interpolation_matrix(images.shape[2], resolution)
    return np.einsum("ij,njk,lk->nil", rows, images, cols)


def normalize(images: np.ndarray) -> np.ndarray:
    """Pixel values 0..16 -> zero mean, unit variance (fixed constants of the data set)."""
    return ((images / 16.0 - 0.3) / 0.4).astype(np.float32)


@lru_cache(maxsize=8)
def split(resolution: int) -> Split:
    images, labels, test = _raw()
    x = normalize(resize(images, resolution))[:, None, :, :]
    return Split(x[~test], labels[~test], x[test], labels[test])
