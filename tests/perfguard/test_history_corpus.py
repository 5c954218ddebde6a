"""History mode on real CI data: 300 Django commits measured on GitHub-hosted runners.

The corpus is bundled in ``tests/fixtures/django-asv-corpus.tar.xz`` and unpacked once per session
by ``tests.helpers.corpus``. Every figure is out of sample: a pair is judged with a model learned
only from the results before its head. ``scripts/history_noise.py`` prints the same figures on
every pair; these tests use every 5th or 10th pair to stay fast.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from perfguard import history
from perfguard.compare import compare
from perfguard.models import ResultSet, Verdict
from perfguard.policy import Policy
from tests.helpers import corpus as bundled
from tests.helpers import history as helpers_history

REPO_ROOT = Path(__file__).parents[2]
FIRST_TEST = 150
WINDOW = history.DEFAULT_COMMITS

pytestmark = pytest.mark.integration


def load_script() -> ModuleType:
    """scripts/history_noise.py, so the test checks the very code that prints the figures."""
    spec = importlib.util.spec_from_file_location(
        "history_noise", REPO_ROOT / "scripts" / "history_noise.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["history_noise"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script()


@pytest.fixture(scope="module")
def corpus() -> list[ResultSet]:
    return history.load_history(bundled.results_dir())


def test_asv_own_rule_flags_over_a_third_of_neighbouring_commits(script: ModuleType) -> None:
    paths = bundled.result_files()
    assert len(paths) == 300
    everything, _ = script.asv_tally(paths, FIRST_TEST, stride=5)
    assert everything.compared > 3_500
    assert everything.flagged / everything.compared > 0.33


def test_history_mode_flags_at_most_5_percent_and_still_sees_a_15_percent_step(
    script: ModuleType, corpus: list[ResultSet]
) -> None:
    noise, step = script.history_tally(
        corpus, FIRST_TEST, WINDOW, rolling=True, stride=10, step_every=3
    )
    assert noise.compared > 900 and step.compared > 300
    assert noise.flagged / noise.compared <= 0.05
    assert step.flagged / step.compared >= 0.75


def verdict_of(
    key: tuple[str, tuple[tuple[str, str], ...]],
    base: ResultSet,
    head: ResultSet,
    model: history.NoiseModel,
) -> Verdict:
    rows = compare(base, head, Policy(), adjust=model.adjuster(base, head)).rows
    return next(r.verdict for r in rows if (r.benchmark, r.params) == key)


def test_a_step_built_into_the_series_is_flagged_once(corpus: list[ResultSet]) -> None:
    """Every benchmark in turn: all its results from commit ``at`` on made 15 % slower."""
    at = 220
    recent = corpus[at + 1 - WINDOW : at + 2]  # the history the two pairs below are judged with
    here = WINDOW - 1  # index of commit ``at`` in ``recent``
    changes = history.neighbour_changes(recent)
    model = history.fit(history.window(changes, 0, here - 1))
    keys = [k for j, k in enumerate(changes.keys) if not np.isnan(changes.log_change[here - 1, j])]
    assert len(keys) > 50
    verdicts = []
    for key in keys:
        series = helpers_history.with_step(recent, key, 1.15, here)
        verdicts.append(verdict_of(key, series[here - 1], series[here], model))
    assert np.mean([v is Verdict.REGRESSED for v in verdicts]) >= 0.75
    # Where it is missed, the noise was too large to tell: never "unchanged" or "improved".
    assert set(verdicts) <= {Verdict.REGRESSED, Verdict.INCONCLUSIVE}
    # One commit later the step is part of the history, not a change any more.
    for key in keys[:: len(keys) // 4]:
        series = helpers_history.with_step(recent, key, 1.15, here)
        after = history.learn(series[1 : here + 1])
        assert verdict_of(key, series[here], series[here + 1], after) is not Verdict.REGRESSED
