"""``perfguard compare`` through click's CliRunner: formats, gate, colour, outputs, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from perfguard import cli as cli_module
from perfguard.cli import cli
from tests.helpers.asvfiles import write_results_dir

FIXTURES = Path(__file__).parents[1] / "fixtures" / "django-asv" / "results"
BASE_COMMIT = "1" * 40
HEAD_COMMIT = "2" * 40

BENCHMARKS = {
    "suite.time_slow": {"type": "time", "unit": "seconds"},
    "suite.time_same": {"type": "time", "unit": "seconds"},
    "suite.track_rate": {"type": "track", "unit": "events/s"},
    "suite.mem_big": {"type": "memory", "unit": "bytes"},
}


def samples(center: float, spread: float = 0.002) -> list[float]:
    return [center * (1 + spread * k) for k in (-2, -1, 0, 1, 2, -1.5, 1.5, 0.5)]


def write_pair(
    root: Path, *, slow: float = 1.3, rate: float = 100_000.0, machine2: str = "box"
) -> Path:
    results = root / "results"
    write_results_dir(
        results,
        "box",
        BASE_COMMIT,
        "py3.12",
        benchmarks=BENCHMARKS,
        results={
            "suite.time_slow": {"result": 1.0, "samples": samples(1.0)},
            "suite.time_same": {"result": 2.0, "samples": samples(2.0)},
            # Samples: a track_ value without a spread is never regressed (issue 10).
            "suite.track_rate": {"result": 100_000.0, "samples": samples(100_000.0)},
            "suite.mem_big": {"result": 1000.0},
        },
    )
    write_results_dir(
        results,
        machine2,
        HEAD_COMMIT,
        "py3.12",
        benchmarks=BENCHMARKS,
        results={
            "suite.time_slow": {"result": slow, "samples": samples(slow)},
            "suite.time_same": {"result": 2.0, "samples": samples(2.0)},
            "suite.track_rate": {"result": rate, "samples": samples(rate)},
            "suite.mem_big": {"result": 1000.0},
        },
    )
    return results


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def files(results: Path, machine2: str = "box") -> tuple[str, str]:
    return (
        str(results / "box" / f"{BASE_COMMIT[:8]}-py3.12.json"),
        str(results / machine2 / f"{HEAD_COMMIT[:8]}-py3.12.json"),
    )


def test_help_lists_commands_and_exit_codes() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "compare" in result.output
    assert "Exit codes" in result.output
    result = invoke("compare", "--help")
    assert result.exit_code == 0
    for option in ("--threshold", "--fail-on", "--format", "--only-changed", "--results-dir"):
        assert option in result.output


def test_regression_exits_1_and_table_shows_it(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path))
    result = invoke("compare", base, head, "--no-color")
    assert result.exit_code == 1, result.output
    assert "suite.time_slow" in result.stdout
    assert "regressed" in result.stdout
    assert "\x1b[" not in result.stdout


def test_no_regression_exits_0(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path, slow=1.0))
    result = invoke("compare", base, head)
    assert result.exit_code == 0, result.output


def test_fail_on_never_turns_the_gate_into_a_warning(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path))
    result = invoke("compare", base, head, "--fail-on", "never")
    assert result.exit_code == 0
    assert "regressed" in result.stdout
    assert "--fail-on never" in result.stderr


def test_threshold_option_changes_the_verdict(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path, slow=1.08))
    assert invoke("compare", base, head).exit_code == 1
    assert invoke("compare", base, head, "--threshold", "10%").exit_code == 0


def test_throughput_drop_fails_rise_passes(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path / "drop", slow=1.0, rate=70_000.0))
    result = invoke("compare", base, head, "--format", "json")
    assert result.exit_code == 1
    rows = {r["benchmark"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["suite.track_rate"]["verdict"] == "regressed"
    assert rows["suite.track_rate"]["direction"] == "higher"
    base, head = files(write_pair(tmp_path / "rise", slow=1.0, rate=130_000.0))
    result = invoke("compare", base, head, "--format", "json")
    assert result.exit_code == 0
    rows = {r["benchmark"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["suite.track_rate"]["verdict"] == "improved"


def test_markdown_and_json_files_and_only_changed(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path))
    md, js = tmp_path / "report.md", tmp_path / "report.json"
    result = invoke(
        "compare",
        base,
        head,
        "--format",
        "markdown",
        "--only-changed",
        "--markdown-file",
        str(md),
        "--json-file",
        str(js),
        "--marker-key",
        "suite-a",
    )
    assert result.exit_code == 1
    assert result.stdout.startswith("<!-- perfguard:sticky-comment key=suite-a -->")
    assert "time\\_same" not in result.stdout and "time_same" not in result.stdout
    assert md.read_text().startswith("<!-- perfguard:sticky-comment key=suite-a -->")
    report = json.loads(js.read_text())
    assert report["schema_version"] == 1
    assert {r["benchmark"] for r in report["rows"]} == {"suite.time_slow"}
    assert not list(tmp_path.glob(".*perfguard-tmp"))


def test_unwritable_report_file_is_exit_2(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path))
    result = invoke("compare", base, head, "--json-file", str(tmp_path / "no" / "dir" / "r.json"))
    assert result.exit_code == 2
    # Only the error's line (the repository's own config may add warnings before it).
    assert result.stderr.splitlines()[-1].startswith("error: cannot write report")


def test_colour_follows_flag_and_no_color(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path))
    coloured = invoke("compare", base, head, "--color")
    assert "\x1b[" in coloured.stdout
    plain = invoke("compare", base, head, env={"NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout


def test_different_machines_warn_in_every_format(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path, slow=1.0, machine2="other"), machine2="other")
    for fmt in ("table", "markdown", "json"):
        result = invoke("compare", base, head, "--format", fmt)
        assert result.exit_code == 0
        assert "different machines" in result.stdout, fmt
        assert "different machines" in result.stderr


def test_refs_resolved_against_results_dir_from_asv_conf(tmp_path: Path) -> None:
    results = write_pair(tmp_path)
    (tmp_path / "asv.conf.json").write_text('{"version": 1, "repo": ".", "results_dir": "results"}')
    result = invoke(
        "compare", BASE_COMMIT[:8], HEAD_COMMIT, "--repo", str(tmp_path), "--format", "json"
    )
    # Not a git repository: hash prefixes still resolve against the results directory.
    assert result.exit_code in (1, 2), result.output
    if result.exit_code == 2:
        assert result.stderr.startswith("error:")
    else:
        assert json.loads(result.stdout)["head"]["commit"] == HEAD_COMMIT
    assert results.is_dir()


def test_real_django_files(tmp_path: Path) -> None:
    names = sorted(p for p in (FIXTURES / "ubuntu-latest").glob("*-conda-py3.12.json"))
    result = invoke("compare", str(names[0]), str(names[1]), "--format", "json")
    assert result.exit_code in (0, 1)
    report = json.loads(result.stdout)
    assert len(report["rows"]) >= 50
    # asv's pooled samples from 2 processes per side (issue 10), a suite shift removed or not.
    assert all(r["method"] in ("processes", "processes+shift", None) for r in report["rows"])


@pytest.mark.parametrize("columns", ["80", "100"])
def test_the_table_fits_the_columns_the_shell_exports(columns: str) -> None:
    names = sorted(p for p in (FIXTURES / "ubuntu-latest").glob("*-conda-py3.12.json"))
    result = invoke("compare", str(names[0]), str(names[1]), env={"COLUMNS": columns})
    lines = result.stdout.splitlines()
    assert len(lines) > 50
    assert max(len(line) for line in lines) <= int(columns)
    assert max(len(line) for line in lines) > 70  # the width was used, not a narrow default


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "JSON"),
        ('{"version": 1, "results": {}}', "asv update"),
        ('{"version": 2, "commit_hash": "ab", "results"', "JSON"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, content: str | None, message: str) -> None:
    results = write_pair(tmp_path)
    bad = results / "box" / "bad-py3.12.json"
    if content is not None:
        bad.write_text(content)
    result = invoke("compare", str(bad), files(results)[1])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_missing_benchmarks_json_is_exit_2(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path))
    (tmp_path / "results" / "benchmarks.json").unlink()
    result = invoke("compare", base, head)
    assert result.exit_code == 2
    assert "benchmarks.json" in result.stderr


def test_bad_config_is_exit_2(tmp_path: Path) -> None:
    base, head = files(write_pair(tmp_path))
    config = tmp_path / "perfguard.toml"
    config.write_text('threshold = "lots"\n')
    result = invoke("compare", base, head, "--config", str(config))
    assert result.exit_code == 2
    assert result.stderr.startswith("error:")
    result = invoke("compare", base, head, "--threshold", "500%")
    assert result.exit_code == 2


def test_unexpected_crash_is_one_line_and_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, head = files(write_pair(tmp_path))

    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("synthetic bug")

    monkeypatch.setattr("perfguard.commands.compare.compare", boom)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    result = invoke("compare", base, head)
    assert result.exit_code == 70
    assert "internal error (ZeroDivisionError: synthetic bug)" in result.stderr
    (log,) = tmp_path.glob("perfguard-crash-*.log")
    assert "synthetic bug" in log.read_text()
    assert "Traceback" not in result.stderr


def test_main_runs_the_same_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = files(write_pair(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(["compare", base, head, "--format", "json"])
    assert exit_info.value.code == 1
    assert json.loads(capsys.readouterr().out)["summary"]["failed"] is True
