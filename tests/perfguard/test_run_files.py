"""Where ``perfguard run`` writes: its own directory, numbered runs, ``--output`` (no asv here;
test_run_integration.py checks the same against real asv results)."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfguard import rounds
from perfguard.errors import InputError
from perfguard.runner import files

BASE = "a" * 40
HEAD = "b" * 40
STEM = f"{'a' * 12}-{'b' * 12}"


def test_runs_of_one_pair_are_numbered_and_found_again(tmp_path: Path) -> None:
    results = tmp_path / ".asv" / "results"
    first = files.claim(results, BASE, HEAD, None)
    ours = tmp_path / ".asv" / "perfguard"
    assert first.rounds == ours / f"{STEM}.rounds.json"
    assert first.asv_results == ours / f"{STEM}.asv-results"
    assert first.note is None
    assert first.rounds.is_file() and first.asv_results.is_dir()  # reserved at once
    assert not results.exists()  # asv's results directory is not created, let alone written

    second = files.claim(results, BASE, HEAD, None)
    third = files.claim(results, BASE, HEAD, None)
    assert second.rounds == ours / f"{STEM}.2.rounds.json"
    assert second.note == (
        f"an earlier run of these commits is kept in {first.rounds}; this run writes "
        f"{second.rounds}"
    )
    assert third.rounds.name == f"{STEM}.3.rounds.json"
    assert third.note is not None and "(and 1 more)" in third.note
    assert files.rounds_files_for(results, BASE, HEAD) == sorted(
        [first.rounds, second.rounds, third.rounds]
    )
    assert files.rounds_files_for(results, HEAD, BASE) == []


def test_a_name_taken_by_a_stray_folder_is_skipped(tmp_path: Path) -> None:
    ours = tmp_path / "perfguard"
    (ours / f"{STEM}.asv-results").mkdir(parents=True)  # left over, without a rounds file
    claimed = files.claim(tmp_path / "results", BASE, HEAD, None)
    assert claimed.rounds.name == f"{STEM}.2.rounds.json"


@pytest.mark.parametrize(
    ("name", "beside"),
    [
        ("run.rounds.json", "run.asv-results"),
        ("rounds.json", "rounds.asv-results"),
        ("rounds", "rounds.asv-results"),
        (".json", ".json.asv-results"),
    ],
)
def test_the_asv_layout_sits_beside_the_rounds_file(name: str, beside: str) -> None:
    assert files.asv_results_beside(Path("out") / name) == Path("out") / beside


def test_output_replaces_only_an_earlier_rounds_file(tmp_path: Path) -> None:
    fresh = files.claim(tmp_path, BASE, HEAD, tmp_path / "out" / "rounds.json")
    assert fresh.note is None
    assert fresh.asv_results == tmp_path / "out" / "rounds.asv-results"
    assert fresh.asv_results.is_dir()

    earlier = tmp_path / "earlier.rounds.json"
    rounds.write(earlier, rounds.read(Path(__file__).parents[1] / "data" / "aa_rounds.json"))
    again = files.claim(tmp_path, BASE, HEAD, earlier)
    assert again.note == f"replacing the earlier rounds file {earlier} (--output)"

    mine = tmp_path / "notes.json"
    mine.write_text('{"mine": true}')
    with pytest.raises(InputError, match="is not a perfguard rounds file: not overwriting it"):
        files.claim(tmp_path, BASE, HEAD, mine)
    with pytest.raises(InputError, match="not overwriting it"):
        files.claim(tmp_path, BASE, HEAD, tmp_path)  # a folder
    assert mine.read_text() == '{"mine": true}'


def test_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot create"):
        files.claim(blocker / "results", BASE, HEAD, None)  # its parent is a file
    with pytest.raises(InputError, match="cannot create"):
        files.claim(tmp_path, BASE, HEAD, blocker / "rounds.json")
