"""Real asv output of another project: Django's benchmark results (asv 0.6, format 2).

The full corpus is bundled in ``tests/fixtures/django-asv-corpus.tar.xz`` (unpacked once per
session by ``tests.helpers.corpus``); three of its files are also kept unpacked in
``tests/fixtures/django-asv`` with their LICENSE.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from asv.results import Results

from perfguard.models import Kind, Measurement, ResultSet, Status
from perfguard.results import load_result_set
from tests.helpers import corpus as bundled

REPO_ROOT = Path(__file__).parents[2]
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "django-asv" / "results"
MACHINE = "ubuntu-latest"


def assert_matches_asv(result: ResultSet, path: Path) -> None:
    """Every value, interval and sample is what asv's own reader finds in the file."""
    theirs = Results.load(str(path), machine_name=MACHINE)
    assert result.commit == theirs.commit_hash
    by_name: dict[str, list[Measurement]] = {}
    for measurement in result.measurements:
        by_name.setdefault(measurement.benchmark, []).append(measurement)
    assert set(by_name) == set(theirs.get_all_result_keys())
    for name, ours in by_name.items():
        params = theirs.get_result_params(name)
        values = theirs.get_result_value(name, params)
        stats = theirs.get_result_stats(name, params)
        samples = theirs.get_result_samples(name, params)
        assert len(ours) == len(values), name
        for m, value, stat, sample in zip(ours, values, stats, samples, strict=True):
            assert m.value == value, name
            assert m.samples == (None if sample is None else tuple(sample))
            assert m.ci_99 == (stat["ci_99_a"], stat["ci_99_b"])
            assert m.quartiles == (stat["q_25"], stat["q_75"])
            assert (m.number, m.repeat) == (stat["number"], stat["repeat"])
            assert m.version == theirs.benchmark_version[name]


def test_the_bundled_corpus_unpacks_with_its_license_and_provenance() -> None:
    # A missing or truncated archive must fail the suite, not quietly shrink it.
    root = bundled.corpus_dir()
    assert "MIT License" in (root / "LICENSE").read_text(encoding="utf-8")
    assert "django/django-asv" in (root / "README.md").read_text(encoding="utf-8")
    assert (root / "results" / MACHINE / "machine.json").is_file()
    assert len(bundled.result_files()) == 300
    # The three unpacked fixture files are byte for byte the corpus's own.
    for path in sorted((FIXTURE / MACHINE).glob("*.json")):
        assert path.read_bytes() == (root / "results" / MACHINE / path.name).read_bytes()


@pytest.mark.integration
def test_all_300_corpus_files_read_and_agree_with_asv() -> None:
    paths = bundled.result_files()
    assert len(paths) == 300
    measurements = 0
    for path in paths:
        result = load_result_set(str(path))
        assert (result.machine, result.env) == (MACHINE, "conda-py3.12")
        assert path.name.startswith(result.commit[:8])
        assert all(m.kind is Kind.TIME and m.unit == "seconds" for m in result.measurements)
        assert all(m.status is Status.OK for m in result.measurements)
        assert_matches_asv(result, path)
        measurements += len(result.measurements)
    assert measurements == 18735


def test_corpus_commits_are_found_by_hash_prefix_in_the_results_dir(tmp_path: Path) -> None:
    results = bundled.results_dir()
    result = load_result_set("03988c5a", results_dir=results, repo=tmp_path)
    assert result.commit.startswith("03988c5a")
    assert result.source == str(results / MACHINE / "03988c5a-conda-py3.12.json")


@pytest.mark.parametrize(
    ("name", "benchmarks"),
    [
        ("03988c5a-conda-py3.12.json", 66),
        ("4c4f8fd7-conda-py3.12.json", 66),
        ("0174a857-conda-py3.12.json", 59),
    ],
)
def test_the_fixture_files_read_and_agree_with_asv(name: str, benchmarks: int) -> None:
    path = FIXTURE / MACHINE / name
    result = load_result_set(str(path))
    assert len(result.measurements) == benchmarks
    assert result.machine_info == {"machine": MACHINE, "python": "3.12"}
    assert all(m.samples is not None and len(m.samples) == 10 for m in result.measurements)
    assert all(
        m.value is not None and m.ci_99 is not None and m.ci_99[0] <= m.value <= m.ci_99[1]
        for m in result.measurements
    )
    assert_matches_asv(result, path)
