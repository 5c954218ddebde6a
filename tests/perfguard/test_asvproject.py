"""asvproject: asv's configuration found and read as asv reads it, and its results layout."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from asv.results import get_filename

from perfguard import asvproject
from perfguard.errors import ConfigError, InputError

PERFGUARD = [sys.executable, "-m", "perfguard"]
READS = re.compile(r"json\.loads?\(|open\(|read_text\(|read_bytes\(")


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The config ``asv quickstart --top-level`` writes: comments, trailing commas and all."""
    folder = tmp_path_factory.mktemp("quickstart")
    done = subprocess.run(
        [sys.executable, "-m", "asv", "quickstart", "--top-level"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config = folder / "asv.conf.json"
    text = config.read_text(encoding="utf-8")
    assert "//" in text and ",\n}" in text  # what plain json refuses
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    return config


def project_from(quickstart: Path, folder: Path, name: str = "asv.conf.json") -> Path:
    """A copy of the quickstart config at ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(quickstart, folder / name))


def edited(config: Path, old: str, new: str) -> Path:
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new), encoding="utf-8")
    return config


def perfguard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PERFGUARD, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_quickstart_config_is_read_with_paths_relative_to_it(
    quickstart: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = project_from(quickstart, tmp_path / "app")
    monkeypatch.chdir(tmp_path)  # elsewhere: paths follow the config file, not the cwd
    project = asvproject.load(start=Path("app"))
    app = tmp_path / "app"
    assert project.config == app / "asv.conf.json"
    assert project.results_dir == app / ".asv" / "results"
    assert project.html_dir == app / ".asv" / "html"
    assert project.env_dir == app / ".asv" / "env"
    assert project.benchmark_dir == app / "benchmarks"
    assert project.repo == str(app)
    assert project.local_repo == app
    assert project.conf.environment_type == "virtualenv"
    assert asvproject.load(config).results_dir == project.results_dir


def test_a_config_kept_in_benchmarks_is_found_from_the_root(
    quickstart: Path, tmp_path: Path
) -> None:
    config = project_from(quickstart, tmp_path / "benchmarks")
    edited(config, '"repo": "."', '"repo": ".."')
    edited(config, '"results_dir": ".asv/results"', '"results_dir": "../perf/results"')
    assert asvproject.find_config(tmp_path) == config
    project = asvproject.load(start=tmp_path)
    assert project.repo == str(tmp_path)
    assert project.results_dir == tmp_path / "perf" / "results"
    assert project.benchmark_dir == tmp_path / "benchmarks" / "benchmarks"
    # One in the folder itself wins over one in benchmarks/, as asv (which looks in . only).
    top = project_from(quickstart, tmp_path)
    assert asvproject.find_config(tmp_path) == top


def test_jsonc_is_found_and_two_configs_in_one_folder_are_refused(
    quickstart: Path, tmp_path: Path
) -> None:
    jsonc = project_from(quickstart, tmp_path, "asv.conf.jsonc")
    assert asvproject.load(start=tmp_path).config == jsonc
    project_from(quickstart, tmp_path)
    with pytest.raises(ConfigError, match=r"both .*asv\.conf\.json and .*asv\.conf\.jsonc exist"):
        asvproject.find_config(tmp_path)


def test_a_repo_in_a_subdirectory_or_remote(quickstart: Path, tmp_path: Path) -> None:
    config = edited(project_from(quickstart, tmp_path), '"repo": "."', '"repo": "src/app"')
    assert asvproject.load(config).repo == str(tmp_path / "src" / "app")
    before = '"repo": "src/app"'
    for url in ("https://example.invalid/app.git", "git@example.invalid:org/app.git"):
        edited(config, before, before := f'"repo": "{url}"')
        project = asvproject.load(config)
        assert (project.repo, project.local_repo) == (url, None)


def test_no_config_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        asvproject.find_config(tmp_path)
    assert str(info.value) == (
        f"no asv.conf.json (or asv.conf.jsonc) in {tmp_path} or {tmp_path / 'benchmarks'}; run"
        " in the project's checkout, or name the file with --asv-config"
    )


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("asv.conf.json", '{"version": 1,\n', "not valid JSON (line 2 Unexpected end of input"),
        ("asv.conf.json", "[1, 2]", "not a JSON object"),
        ("asv.conf.json", "null", "not a JSON object"),
        ("asv.conf.json", '{"repo": "."}', "No version specified"),
        ("asv.conf.json", '{"version": 1}', "No repo specified in config file"),
        ("asv.conf.json", '{"version": 9, "repo": "."}', "newer than what this version of asv"),
        ("asv.conf.json", '{"version": 1, "repo": ".", "env_dir": 3}', "env_dir must be a"),
        ("asv.conf.json", '{"version": 1, "repo": 3}', "repo must be a path or URL"),
        ("pyproject.toml", '[tool.perfguard]\nthreshold = "5%"\n', "it is TOML, and asv's"),
        ("asv.conf.json", b"\xff\xfe{}", "cannot read asv configuration"),
    ],
)
def test_a_config_asv_refuses_is_one_line_exit_2(
    tmp_path: Path, name: str, content: str | bytes, reason: str
) -> None:
    config = tmp_path / name
    if isinstance(content, bytes):
        config.write_bytes(content)
    else:
        config.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        asvproject.load(config)
    assert str(config) in str(info.value) and reason in str(info.value)
    done = perfguard("asv-project", "results-dir", "--asv-config", name, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert reason in lines[0]
    assert "crash log" not in done.stderr


def test_a_missing_config_or_a_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        asvproject.load(tmp_path / "asv.conf.json")
    with pytest.raises(ConfigError, match="is a directory"):
        asvproject.load(tmp_path)


def test_the_plumbing_command_prints_what_scripts_need(quickstart: Path, tmp_path: Path) -> None:
    app = tmp_path / "app"
    project_from(quickstart, app / "benchmarks")
    edited(app / "benchmarks" / "asv.conf.json", '"repo": "."', '"repo": ".."')
    expected = {
        "config": app / "benchmarks" / "asv.conf.json",
        "results-dir": app / "benchmarks" / ".asv" / "results",
        "benchmark-dir": app / "benchmarks" / "benchmarks",
        "html-dir": app / "benchmarks" / ".asv" / "html",
        "env-dir": app / "benchmarks" / ".asv" / "env",
        "repo": app,
    }
    assert set(expected) == set(asvproject.FIELDS)
    for name, path in expected.items():
        done = perfguard("asv-project", name, cwd=app)
        assert (done.returncode, done.stdout) == (0, f"{path}\n"), done.stderr
    elsewhere = perfguard("asv-project", "results-dir", "--dir", str(app), cwd=tmp_path)
    assert elsewhere.stdout == f"{expected['results-dir']}\n"
    none = perfguard("asv-project", "results-dir", cwd=tmp_path)
    assert none.returncode == 2 and none.stderr.startswith("error: no asv.conf.json")


# --- the results directory ------------------------------------------------------------------


def test_result_files_follow_asvs_names(tmp_path: Path) -> None:
    long_env = "conda-py3.12-" + "x" * 130
    for machine, commit, env in [
        ("box", "a" * 40, "virtualenv-py3.12"),
        ("box", "b" * 40, long_env),
        ("other", "c" * 40, "existing-py_usr_bin_python3"),
    ]:
        path = tmp_path / get_filename(machine, commit, env)  # asv's own naming
        assert path.name == asvproject.result_file_name(commit, env)
        path.parent.mkdir(exist_ok=True)
        path.write_text("{}", encoding="utf-8")
    for meta in ("box/machine.json", "benchmarks.json", "box/notes.txt"):
        (tmp_path / meta).write_text("{}", encoding="utf-8")
    found = asvproject.scan(tmp_path)
    assert [(f.machine, f.hash8) for f in found] == [
        ("box", "a" * 8),
        ("box", "b" * 8),
        ("other", "c" * 8),
    ]
    assert asvproject.env_matches(found[1].env, long_env)
    assert not asvproject.env_matches(found[0].env, "virtualenv-py3.11")
    assert asvproject.machine_dir(tmp_path, "other") == tmp_path / "other"
    with pytest.raises(InputError, match=r"2 machines \(box, other\); choose one with --machine"):
        asvproject.machine_dir(tmp_path, None)
    with pytest.raises(InputError, match="has no machine 'nope'; it has box, other"):
        asvproject.machine_dir(tmp_path, "nope")


def test_an_empty_or_missing_results_dir_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist; run `asv run` first"):
        asvproject.scan(tmp_path / "missing")
    (tmp_path / "box").mkdir()
    with pytest.raises(InputError, match="is empty"):
        asvproject.scan(tmp_path)


def test_nothing_else_reads_asv_conf_json_itself() -> None:
    """One module knows asv's config: no other source file or script parses it."""
    root = Path(__file__).resolve().parents[2]
    sources = [*(root / "src").rglob("*.py"), *(root / "scripts").rglob("*")]
    offenders = []
    for path in sources:
        if not path.is_file() or path.name == "asvproject.py" or "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        reads = [
            line
            for line in text.splitlines()
            if "import json5" in line
            or "Config.load(" in line
            or "load_json(" in line
            or ("asv.conf" in line and READS.search(line))
        ]
        offenders += [f"{path.relative_to(root)}: {line.strip()}" for line in reads]
    assert offenders == []


def test_the_help_names_every_field(tmp_path: Path) -> None:
    done = perfguard("asv-project", "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert all(name in done.stdout for name in asvproject.FIELDS)
    assert "--asv-config" in done.stdout
