"""perfguard's rounds file: writing, reading, refusing bad files, and the paired comparison."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from perfguard import fingerprint, paired, rounds
from perfguard.errors import InputError
from perfguard.fingerprint import Fingerprint
from perfguard.models import Direction, Kind, ResultSet, Status, Verdict
from perfguard.policy import Policy, Rule

PRINT = Fingerprint(
    cpu="AMD EPYC 7763",
    cores=2,
    os="Linux 6.1",
    arch="x86_64",
    python="CPython 3.11.7",
    machine={"machine": "ci", "cpu": "AMD EPYC 7763", "num_cpu": "2"},
)


def series(
    name: str, base: list[float | None], head: list[float | None], **kw: object
) -> rounds.Series:
    fields: dict[str, object] = {"kind": Kind.TIME, "unit": "seconds"}
    fields.update(kw)
    return rounds.Series(
        benchmark=name,
        rounds=list(range(1, len(base) + 1)),
        base=base,
        head=head,
        **fields,  # type: ignore[arg-type]
    )


def make_file(*items: rounds.Series, fingerprint: Fingerprint = PRINT) -> rounds.RoundsFile:
    return rounds.RoundsFile(
        perfguard_version="0.1.0",
        created="2026-11-21T13:00:00+00:00",
        seed=42,
        base=rounds.Side(ref="main", commit="a" * 40),
        head=rounds.Side(ref="HEAD", commit="b" * 40),
        machine="ci",
        env="virtualenv-py3.11",
        fingerprint=fingerprint,
        rounds=[
            rounds.RoundRecord(
                index=1,
                order=("head", "base"),
                started="2026-11-21T13:00:01+00:00",
                seconds=1.5,
                benchmarks=len(items),
            )
        ],
        series=list(items),
    )


STEADY = [1.00, 1.01, 0.99, 1.00, 1.02, 0.98]


def slower(factor: float, noise: list[float] | None = None) -> list[float | None]:
    wobble = noise or [1.0, 1.003, 0.998, 1.001, 0.999, 1.002]
    return [b * factor * w for b, w in zip(STEADY, wobble, strict=True)]


def test_write_then_read_gives_the_same_data(tmp_path: Path) -> None:
    data = make_file(series("s.time_a", list(STEADY), slower(1.3)))
    path = tmp_path / "sub" / "run.rounds.json"
    rounds.write(path, data)
    assert rounds.read(path) == data
    assert rounds.is_rounds_file(path)
    assert json.loads(path.read_text())["format"] == rounds.FORMAT
    assert not list(path.parent.glob(".*perfguard-tmp"))


def test_write_failure_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "dir"
    target.mkdir()
    with pytest.raises(InputError, match="cannot write rounds file"):
        rounds.write(target, make_file())


@pytest.mark.parametrize(
    ("content", "message", "claims"),
    [
        (None, "does not exist", False),
        (b"{not json", "not valid JSON", False),
        (b'{"kind": "asv", "format": 1}', "not a perfguard rounds file", False),
        (b'{"kind": "perfguard-rounds", "format": 99}', "has format 99, this perfguard", True),
        (b'{"kind": "perfguard-rounds", "format": 1, "seed": "x"}', "is malformed", True),
    ],
)
def test_bad_rounds_files_are_refused_in_one_line(
    tmp_path: Path, content: bytes | None, message: str, claims: bool
) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        rounds.read(path)
    assert rounds.is_rounds_file(path) is claims


def test_unreadable_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read rounds file"):
        rounds.read(tmp_path)


def test_paired_comparison_flags_exactly_the_slowed_benchmark() -> None:
    data = make_file(
        series("s.time_slow", list(STEADY), slower(1.30)),
        series("s.time_same", list(STEADY), slower(1.00)),
        series("s.time_faster", list(STEADY), slower(0.80)),
    )
    comparison = rounds.to_comparison(data, Policy())
    verdicts = {row.benchmark: row.verdict for row in comparison.rows}
    assert verdicts == {
        "s.time_slow": Verdict.REGRESSED,
        "s.time_same": Verdict.UNCHANGED,
        "s.time_faster": Verdict.IMPROVED,
    }
    row = next(r for r in comparison.rows if r.benchmark == "s.time_slow")
    assert row.estimate is not None and row.estimate.method == "paired"
    assert row.change == pytest.approx(0.30, abs=0.005)
    assert comparison.failed


def test_drift_shared_by_both_sides_cancels() -> None:
    """Rounds 2x apart in speed, head always 1 % slower: paired, that is unchanged."""
    drift = [1.0, 2.0, 1.5, 0.8, 1.2, 1.7]
    wobble = [1.0, 1.002, 0.998, 1.001, 0.999, 1.0]
    data = make_file(
        series(
            "s.time_x",
            list(drift),
            [d * 1.01 * w for d, w in zip(drift, wobble, strict=True)],
        )
    )
    (row,) = rounds.to_comparison(data, Policy()).rows
    assert row.verdict is Verdict.UNCHANGED
    assert row.change == pytest.approx(0.01, abs=0.002)


def test_direction_from_policy_applies_to_paired_rows() -> None:
    data = make_file(
        series("s.track_rate", list(STEADY), slower(0.8), kind=Kind.TRACK, unit="calls")
    )
    (row,) = rounds.to_comparison(data, Policy()).rows
    assert row.verdict is Verdict.IMPROVED  # track_ with an unknown unit: lower assumed
    assert row.direction_assumed
    higher = Policy(rules=(Rule(pattern="s.track_rate", direction=Direction.HIGHER_IS_BETTER),))
    (row,) = rounds.to_comparison(data, higher).rows
    assert row.verdict is Verdict.REGRESSED


def test_one_round_is_inconclusive() -> None:
    data = make_file(series("s.time_x", [1.0], [1.5]))
    (row,) = rounds.to_comparison(data, Policy()).rows
    assert row.verdict is Verdict.INCONCLUSIVE
    assert "only 1 paired round" in row.reason


def test_failures_and_skips_keep_their_verdicts() -> None:
    data = make_file(
        series("s.time_broken", [1.0, 1.0], [None, None]),
        series(
            "s.time_skip",
            [None, None],
            [None, None],
            base_status=Status.SKIPPED,
            head_status=Status.SKIPPED,
        ),
    )
    verdicts = {r.benchmark: r.verdict for r in rounds.to_comparison(data, Policy()).rows}
    assert verdicts == {"s.time_broken": Verdict.NEWLY_FAILING, "s.time_skip": Verdict.SKIPPED}


def test_deterministic_metric_is_decided_exactly_and_not_rerun() -> None:
    data = make_file(
        series("s.track_allocs", [100.0, 100.0, 100.0], [100.0, 100.0, 100.0], kind=Kind.TRACK),
        series("s.time_noisy", [1.0, 1.0, 1.0], [1.02, 1.15, 0.9]),
    )
    comparison = rounds.to_comparison(data, Policy())
    verdicts = {r.benchmark: r.verdict for r in comparison.rows}
    assert verdicts["s.track_allocs"] is Verdict.UNCHANGED
    assert verdicts["s.time_noisy"] is Verdict.INCONCLUSIVE
    assert rounds.undecided(comparison, data, max_rounds=200) == {("s.time_noisy", ())}
    assert rounds.undecided(comparison, data, max_rounds=3) == set()


def test_family_correction_is_applied_across_benchmarks() -> None:
    """Twelve benchmarks each 6 % slower but barely significant alone: Holm is stricter."""
    noisy = [1.0, 1.04, 0.97, 1.03, 0.98, 1.0]
    items = [series(f"s.time_{i}", list(STEADY), slower(1.06, noisy)) for i in range(12)]
    data = make_file(*items)
    alone = rounds.to_comparison(data, Policy(), correction=paired.Correction.NONE)
    holm = rounds.to_comparison(data, Policy(), correction=paired.Correction.HOLM)
    assert alone.count(Verdict.REGRESSED) == 12
    assert holm.count(Verdict.REGRESSED) < 12


def test_result_set_is_the_median_per_side() -> None:
    data = make_file(series("s.time_x", [1.0, 3.0, 2.0], [2.0, None, 4.0]))
    head = rounds.result_set(data, "head", "f.json")
    (m,) = head.measurements
    assert (head.commit, m.value, m.samples, m.repeat) == ("b" * 40, 3.0, (2.0, 4.0), 2)
    assert rounds.result_set(data, "base", "f.json").measurements[0].value == 2.0


def test_load_side_reads_rounds_files_and_delegates_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    rounds.write(path, make_file(series("s.time_x", [1.0, 1.0], [1.1, 1.1])))
    side, found = rounds.load_side(str(path), lambda spec: pytest.fail(spec))
    assert found == PRINT
    assert side.commit == "b" * 40
    other = ResultSet(commit="c", machine="m", env="e", source="x")
    assert rounds.load_side("c", lambda spec: other) == (other, None)


def test_machine_mismatch_names_fingerprints_and_asv_machines() -> None:
    a = ResultSet(commit="a", machine="ci", env="e", source="x", machine_info={"cpu": "A"})
    b = ResultSet(commit="b", machine="ci", env="e", source="y", machine_info={"cpu": "B"})
    other = msgspec.structs.replace(PRINT, cores=4)
    reasons = fingerprint.machine_mismatch(a, b, (PRINT, other))
    assert len(reasons) == 2
    assert "cores: 2 vs 4" in reasons[0]
    assert reasons[1] == "asv machine 'ci' vs 'ci'"
    assert fingerprint.machine_mismatch(a, a, (PRINT, PRINT)) == []
    assert fingerprint.machine_mismatch(a, a, (None, other)) == []
