"""Reading single asv files: result rows -> Measurements, benchmarks.json, machine.json."""

from __future__ import annotations

import gc
import itertools
import json
import logging
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from asv.results import Results
from hypothesis import given, settings
from hypothesis import strategies as st

from perfguard.asvfiles import (
    BenchmarkInfo,
    load_benchmarks,
    load_machine_info,
    load_result_file,
    read_json,
)
from perfguard.errors import InputError
from perfguard.models import Kind, Measurement, ResultSet, Status
from tests.helpers.asvfiles import (
    MACHINE_INFO,
    RESULT_COLUMNS,
    SKIPPED,
    result_file_data,
    write_benchmarks_json,
    write_json,
    write_results_dir,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SORT = "suite.Sort.time_sort"


def read(path: Path) -> ResultSet:
    """Read a result file in asv's layout, as load_result_set does for one."""
    source = path.parent.parent / "benchmarks.json"
    return load_result_file(
        path,
        load_benchmarks(source),
        benchmarks_source=source,
        machine_json=load_machine_info(path.parent / "machine.json"),
    )


def write(tmp_path: Path, benchmarks: dict[str, Any], results: dict[str, Any]) -> Path:
    return write_results_dir(
        tmp_path / "results", "box", COMMIT, "py3.12", benchmarks=benchmarks, results=results
    )


def test_a_plain_benchmark_keeps_every_statistic(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {SORT: {"version": "abc"}},
        {
            SORT: {
                "result": 0.5,
                "samples": [0.4, 0.5, 0.6],
                "ci": (0.45, 0.55),
                "q": (0.47, 0.52),
                "number": 3,
                "repeat": 10,
            }
        },
    )
    result = read(path)
    assert (result.commit, result.machine, result.env, result.source) == (
        COMMIT,
        "box",
        "py3.12",
        str(path),
    )
    assert result.measurements == (
        Measurement(
            benchmark=SORT,
            kind=Kind.TIME,
            unit="seconds",
            status=Status.OK,
            value=0.5,
            samples=(0.4, 0.5, 0.6),
            ci_99=(0.45, 0.55),
            quartiles=(0.47, 0.52),
            number=3,
            repeat=10,
            version="abc",
        ),
    )


def test_parameterized_benchmark_gives_one_measurement_per_combination_in_asv_order(
    tmp_path: Path,
) -> None:
    params = [["10", "1000"], ["'list'", "'tuple'"]]
    path = write(
        tmp_path,
        {SORT: {"params": params, "param_names": ["n", "container"]}},
        {
            SORT: {
                "result": [1.0, 2.0, 3.0, 4.0],
                "samples": [[1.0], [2.0], [3.0], None],
                "ci": [(0.9, 1.1), (1.9, 2.1), None, (3.9, 4.1)],
            }
        },
    )
    measurements = read(path).measurements
    assert [m.label for m in measurements] == [
        "suite.Sort.time_sort(n=10, container='list')",
        "suite.Sort.time_sort(n=10, container='tuple')",
        "suite.Sort.time_sort(n=1000, container='list')",
        "suite.Sort.time_sort(n=1000, container='tuple')",
    ]
    assert measurements[1].params == (("n", "10"), ("container", "'tuple'"))
    assert [m.value for m in measurements] == [1.0, 2.0, 3.0, 4.0]
    assert [m.samples for m in measurements] == [(1.0,), (2.0,), (3.0,), None]
    assert [m.ci_99 for m in measurements] == [(0.9, 1.1), (1.9, 2.1), None, (3.9, 4.1)]


def test_null_is_failed_nan_is_skipped_and_a_number_is_ok(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {SORT: {"params": [["1", "2", "3"]]}, "suite.time_broken": {}},
        {SORT: {"result": [None, SKIPPED, 7]}, "suite.time_broken": {"result": None}},
    )
    by_label = {m.label: m for m in read(path).measurements}
    assert [(m.status, m.value) for m in by_label.values()] == [
        (Status.FAILED, None),
        (Status.SKIPPED, None),
        (Status.OK, 7.0),
        (Status.FAILED, None),
    ]
    assert list(by_label)[:3] == [f"{SORT}(param1={n})" for n in (1, 2, 3)]


def test_kind_and_unit_come_from_benchmarks_json(tmp_path: Path) -> None:
    benchmarks = {
        "s.time_a": {},
        "s.mem_a": {"type": "mem"},
        "s.peakmem_a": {"type": "peakmem"},
        "s.track_rate": {"type": "track", "unit": "events/s"},
    }
    path = write(tmp_path, benchmarks, {name: {"result": 1} for name in benchmarks})
    assert [(m.kind, m.unit) for m in read(path).measurements] == [
        (Kind.TIME, "seconds"),
        (Kind.MEM, "bytes"),
        (Kind.PEAKMEM, "bytes"),
        (Kind.TRACK, "events/s"),
    ]


def test_asvs_own_type_names_and_custom_types_are_understood(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "benchmarks.json",
        {
            "version": 2,
            "s.mem_x": {"type": "memory", "unit": "bytes"},
            "s.peakmem_x": {"type": "peakmemory", "unit": "bytes"},
            "s.track_custom": {"type": "throughput", "unit": "req/s"},
            "s.plugin_x": {"unit": "calls"},
        },
    )
    assert {name: (b.kind, b.unit) for name, b in load_benchmarks(path).items()} == {
        "s.mem_x": (Kind.MEM, "bytes"),
        "s.peakmem_x": (Kind.PEAKMEM, "bytes"),
        "s.track_custom": (Kind.TRACK, "req/s"),
        "s.plugin_x": (Kind.TRACK, "calls"),
    }


def test_a_rewritten_benchmarks_json_is_read_again(tmp_path: Path) -> None:
    path = write_benchmarks_json(tmp_path, {"s.time_x": {}}, merge=False)
    first = load_benchmarks(path)
    assert load_benchmarks(path) is first  # parsed once for both sides of a comparison
    write_benchmarks_json(tmp_path, {"s.time_x": {"type": "track"}}, merge=False)
    assert load_benchmarks(path)["s.time_x"].kind is Kind.TRACK


def test_a_benchmarks_json_entry_without_unit_gets_the_kinds_default(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "benchmarks.json",
        {"version": 2, "s.track_x": {"type": "track"}, "s.mem_x": {"type": "mem", "unit": ""}},
    )
    assert load_benchmarks(path) == {
        "s.track_x": BenchmarkInfo(kind=Kind.TRACK, unit="unit"),
        "s.mem_x": BenchmarkInfo(kind=Kind.MEM, unit="bytes"),
    }


def test_rows_without_trailing_columns_and_files_with_fewer_columns_read(tmp_path: Path) -> None:
    root = tmp_path / "results"
    write_benchmarks_json(root, {SORT: {}})
    data = result_file_data(commit=COMMIT, env="e", machine="box", results={})
    data["result_columns"] = ["params", "result"]
    data["results"] = {SORT: [[], [2.5]]}
    path = write_json(root / "box" / "01234567-e.json", data)
    (measurement,) = read(path).measurements
    assert (measurement.value, measurement.samples, measurement.version) == (2.5, None, None)

    data["result_columns"] = RESULT_COLUMNS
    data["results"] = {SORT: [[2.5]]}  # asv drops trailing empty cells, even params
    write_json(path, data)
    assert read(path).measurements == (measurement,)


def test_cells_beyond_result_columns_are_ignored(tmp_path: Path) -> None:
    root = tmp_path / "results"
    write_benchmarks_json(root, {SORT: {}})
    data = result_file_data(commit=COMMIT, env="e", machine="box", results={})
    data["result_columns"] = ["result", "params"]
    data["results"] = {SORT: [[2.5], [], "not-a-version", 99]}
    path = write_json(root / "box" / "01234567-e.json", data)
    (measurement,) = read(path).measurements
    assert (measurement.value, measurement.version, measurement.number) == (2.5, None, None)


def test_the_garbage_collector_is_paused_only_while_reading(result_path: Path) -> None:
    assert gc.isenabled()
    read(result_path)
    assert gc.isenabled()
    gc.disable()
    try:
        read(result_path)
        assert not gc.isenabled()  # a caller's choice is left alone
    finally:
        gc.enable()
    rewrite(result_path, {"version": 1})
    with pytest.raises(InputError):
        read(result_path)
    assert gc.isenabled()


def test_param_names_fall_back_to_asvs_defaults_when_benchmarks_json_disagrees(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        {SORT: {"params": [["1"], ["2"]], "param_names": ["only_one"]}},
        {SORT: {"result": [1.0]}},
    )
    assert read(path).measurements[0].params == (("param1", "1"), ("param2", "2"))


def test_machine_info_is_the_files_params_over_machine_json(tmp_path: Path) -> None:
    path = write(tmp_path, {SORT: {}}, {SORT: {"result": 1.0}})
    write_json(
        path.parent / "machine.json",
        {"machine": "box", "cpu": "older cpu", "extra": 4, "version": 1},
    )
    info = read(path).machine_info
    assert info == {**MACHINE_INFO, "machine": "box", "python": "3.12", "extra": "4"}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_a_broken_machine_json_only_warns(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    machine_json = tmp_path / "machine.json"
    machine_json.write_text(content, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="perfguard.results"):
        assert load_machine_info(machine_json) == {}
    assert str(machine_json) in caplog.text


def test_a_missing_machine_json_is_fine(tmp_path: Path) -> None:
    assert load_machine_info(tmp_path / "machine.json") == {}


def test_a_file_without_machine_params_says_unknown(tmp_path: Path) -> None:
    path = write(tmp_path, {SORT: {}}, {SORT: {"result": 1.0}})
    (path.parent / "machine.json").unlink()
    data = json.loads(path.read_text(encoding="utf-8"))
    data["params"] = {}
    write_json(path, data)
    assert read(path).machine == "unknown"


def test_benchmarks_missing_from_benchmarks_json_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(
        tmp_path,
        {SORT: {}},
        {SORT: {"result": 1.0}, **{f"gone.time_{i}": {"result": 1.0} for i in range(7)}},
    )
    root = tmp_path / "results"
    write_benchmarks_json(root, {SORT: {}}, merge=False)
    with caplog.at_level(logging.WARNING, logger="perfguard.results"):
        result = read(path)
    assert [m.benchmark for m in result.measurements] == [SORT]
    (record,) = caplog.records
    assert record.getMessage() == (
        f"{path}: skipped 7 benchmark(s) that {root / 'benchmarks.json'} does not describe:"
        " gone.time_0, gone.time_1, gone.time_2, gone.time_3, gone.time_4 and 2 more"
        " (refresh it with `asv run` or pass --benchmarks-json)"
    )


def test_a_benchmarks_json_describing_none_of_the_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, {SORT: {}}, {SORT: {"result": 1.0}})
    write_benchmarks_json(tmp_path / "results", {"other.time_x": {}}, merge=False)
    with pytest.raises(InputError, match=r"describes none of the benchmarks in .*time_sort"):
        read(path)


def test_asv_itself_reads_what_the_helper_writes_and_agrees_with_perfguard(
    tmp_path: Path,
) -> None:
    params = [["1", "2"], ["'a'"]]
    path = write(
        tmp_path,
        {SORT: {"params": params, "param_names": ["n", "s"], "version": "v9"}},
        {
            SORT: {
                "result": [1.5, SKIPPED],
                "samples": [[1.4, 1.6], None],
                "ci": [(1.3, 1.7), None],
                "q": [(1.45, 1.55), None],
                "number": [2, None],
                "repeat": [10, None],
            }
        },
    )
    theirs = Results.load(str(path), machine_name="box")
    ours = read(path).measurements
    values = theirs.get_result_value(SORT, params)
    assert values[0] == ours[0].value
    assert math.isnan(values[1])
    assert ours[1].status is Status.SKIPPED
    assert theirs.get_result_samples(SORT, params) == [list(ours[0].samples or ()), None]
    stats = theirs.get_result_stats(SORT, params)[0]
    assert (stats["ci_99_a"], stats["ci_99_b"]) == ours[0].ci_99
    assert (stats["q_25"], stats["q_75"]) == ours[0].quartiles
    assert (stats["number"], stats["repeat"]) == (ours[0].number, ours[0].repeat)
    assert theirs.benchmark_version[SORT] == ours[0].version == "v9"
    assert theirs.commit_hash == COMMIT


# --- bad input: one clear line naming the file -------------------------------------------


@pytest.fixture
def result_path(tmp_path: Path) -> Path:
    return write(tmp_path, {SORT: {"params": [["1", "2"]]}}, {SORT: {"result": [1.0, 2.0]}})


def rewrite(path: Path, change: dict[str, Any]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(change)
    write_json(path, data)


def test_a_format_1_file_points_to_asv_update(result_path: Path) -> None:
    rewrite(result_path, {"version": 1})
    with pytest.raises(InputError) as info:
        read(result_path)
    assert str(info.value) == (
        f"{result_path} is an asv result file in the old format version 1; run `asv update` to"
        " upgrade it to version 2"
    )


def test_a_newer_format_asks_to_upgrade_perfguard(result_path: Path) -> None:
    rewrite(result_path, {"version": 3})
    with pytest.raises(InputError, match=r"format version 3, newer .* upgrade perfguard"):
        read(result_path)


@pytest.mark.parametrize("version", [None, "2", True])
def test_a_file_without_an_integer_version_is_not_an_asv_file(
    result_path: Path, version: object
) -> None:
    rewrite(result_path, {"version": version})
    with pytest.raises(InputError, match="is not an asv result file: it has no format version"):
        read(result_path)


def test_a_truncated_file_is_named(result_path: Path) -> None:
    raw = result_path.read_bytes()
    result_path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError) as info:
        read(result_path)
    message = str(info.value)
    assert message.startswith(f"asv result file {result_path} is not valid JSON, perhaps truncated")
    assert "\n" not in message


@pytest.mark.parametrize("content", [b"", b"{'single': 'quotes'}", b"[1, 2,]"])
def test_invalid_json_is_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=f"asv result file {path} is not valid JSON"):
        read_json(path, "asv result file")


def test_non_utf8_bytes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(InputError, match=f"{path} is not UTF-8 JSON text"):
        read_json(path, "asv result file")


def test_a_missing_or_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"asv result file {tmp_path / 'nope.json'} does not"):
        read_json(tmp_path / "nope.json", "asv result file")
    with pytest.raises(InputError, match=f"cannot read asv result file {tmp_path}"):
        read_json(tmp_path, "asv result file")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"results": None}, "a top-level key has the wrong type"),
        ({"commit_hash": 12}, "a top-level key has the wrong type"),
        ({"result_columns": ["params"]}, "result_columns has no 'result'"),
        ({"results": {SORT: {"result": 1}}}, "benchmark 'suite.Sort.time_sort' is not a list"),
        ({"results": {SORT: [[1.0], [["1", "2"]]]}}, "has 1 entries where 2 results belong"),
        ({"results": {SORT: [1.0, [["1", "2"]]]}}, "has a float where 2 results belong"),
        ({"results": {SORT: [[1.0, 2.0], ["1", "2"]]}}, "has malformed params"),
        ({"results": {SORT: [[1.0, 2.0], {"n": 1}]}}, "has malformed params"),
        ({"results": {SORT: [["x", 2.0], [["1", "2"]]]}}, "has a malformed value"),
        ({"results": {SORT: [[1.0, {}], [["1", "2"]]]}}, "has a malformed value"),
        (
            {"results": {SORT: [[1.0, 2.0], [["1", "2"]], *[None] * 9, [[1.0], [None]]]}},
            "has a malformed value",
        ),
        ({"results": {SORT: [[1.0, 2.0], [["1", "2"]], "v", 0, 0, [1.0]]}}, "malformed value"),
        ({"results": {SORT: [[1.0, 2.0], [["1", "2"]], "v", 0, 0, 5]}}, "malformed value"),
    ],
)
def test_a_corrupt_result_file_is_one_clear_line(
    result_path: Path, change: dict[str, Any], message: str
) -> None:
    rewrite(result_path, change)
    with pytest.raises(InputError, match=message) as info:
        read(result_path)
    assert str(info.value).startswith(str(result_path))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("key", ["commit_hash", "env_name", "params", "result_columns", "results"])
def test_a_file_missing_a_key_is_not_an_asv_result_file(result_path: Path, key: str) -> None:
    data = json.loads(result_path.read_text(encoding="utf-8"))
    del data[key]
    write_json(result_path, data)
    with pytest.raises(
        InputError, match=f"{result_path} is not an asv result file: it has no '{key}' key"
    ):
        read(result_path)


def test_a_json_list_is_not_an_asv_result_file(result_path: Path) -> None:
    write_json(result_path, [1, 2])
    with pytest.raises(InputError, match="expected a JSON object at the top"):
        read(result_path)


@pytest.mark.parametrize("name", ["benchmarks.json", "machine.json"])
def test_passing_asvs_other_files_as_a_result_file_says_so(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError, match=f"is asv's {name}, not a result file"):
        load_result_file(tmp_path / name, {}, benchmarks_source=tmp_path / "benchmarks.json")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": 1}, r"old format version 1; run `asv update`"),
        ({"version": 2, "s.time_x": []}, r"entry 's.time_x' is not a JSON object"),
    ],
)
def test_a_bad_benchmarks_json_is_one_clear_line(
    tmp_path: Path, data: dict[str, Any], message: str
) -> None:
    path = write_json(tmp_path / "benchmarks.json", data)
    with pytest.raises(InputError, match=message) as info:
        load_benchmarks(path)
    assert str(path) in str(info.value)


# --- any parameter grid, checked against asv's own reader -----------------------------------

param_values = st.lists(
    st.text(alphabet="abc'019 ", min_size=1, max_size=4), min_size=1, max_size=3, unique=True
)
outcomes = st.one_of(
    st.none(), st.just(SKIPPED), st.floats(min_value=1e-9, max_value=1e9, allow_nan=False)
)


@settings(max_examples=40, deadline=None)
@given(grid=st.lists(param_values, max_size=3), data=st.data())
def test_any_parameter_grid_reads_like_asv_reads_it(
    grid: list[list[str]], data: st.DataObject
) -> None:
    size = math.prod(len(values) for values in grid)
    values = data.draw(st.lists(outcomes, min_size=size, max_size=size))
    names = [f"p{i}" for i in range(len(grid))]
    with tempfile.TemporaryDirectory() as tmp:
        path = write(
            Path(tmp),
            {SORT: {"params": grid, "param_names": names}},
            {SORT: {"result": values}},
        )
        ours = read(path).measurements
        theirs = Results.load(str(path)).get_result_value(SORT, grid)
    assert len(ours) == len(theirs) == size
    for measurement, value, combination in zip(ours, theirs, itertools.product(*grid), strict=True):
        assert measurement.params == tuple(zip(names, combination, strict=True))
        if value is None:
            assert measurement.status is Status.FAILED
        elif math.isnan(value):
            assert measurement.status is Status.SKIPPED
        else:
            assert (measurement.status, measurement.value) == (Status.OK, value)
