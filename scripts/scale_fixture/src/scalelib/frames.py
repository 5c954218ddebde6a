"""pandas code on a frame that ``setup_cache`` builds once per environment."""

import numpy as np
import pandas as pd


def make(rows: int = 200_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "key": rng.integers(0, 500, rows),
            "value": rng.random(rows),
            "weight": rng.random(rows),
        }
    )


def aggregate(frame: pd.DataFrame, how: str) -> pd.Series:
    return frame.groupby("key")["value"].agg(how)


def select(frame: pd.DataFrame) -> int:
    return int((frame["value"] > frame["weight"]).sum())
