"""A library-shaped fixture: its import takes about a second, as numpy, scipy and pandas do.

scripts/scale_vs_asv.py commits this package as base and as heads whose ``WORK`` counts change
(known truth: +15 % or -15 % in named benchmarks, the rest untouched).
"""

import numpy
import pandas
import scipy.optimize
import scipy.signal
import scipy.sparse
import scipy.spatial
import scipy.stats

from scalelib import arrays, frames, graph, text

WORK = {"bfs": 20, "lookup": 200, "tokens": 40}
"""Work counts the heads change; every other benchmark's work is fixed."""

__all__ = ["WORK", "arrays", "frames", "graph", "numpy", "pandas", "scipy", "text"]
