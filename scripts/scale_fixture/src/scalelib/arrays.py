"""numpy kernels with inputs that setup builds."""

import numpy as np


def make(size: int, dtype: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(size) * 1000).astype(dtype)


def normalise(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1.0)


def ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values, kind="stable"), kind="stable")
