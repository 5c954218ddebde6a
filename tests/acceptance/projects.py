"""Foreign-looking asv projects, built as a user would: ``asv quickstart``, then only the fields
asv's documentation tells a user to edit.

The benchmarks are timed by asv's ``timer`` hook with a clock that counts the work done (1 %
jitter drawn per call, seeded per process), as in tests/perfguard/test_run_integration.py: on
this shared 2-core VM wall-clock timings of identical work move by tens of percent, so only a
counted clock makes "a 30 % slowdown is flagged, untouched code is not" a test that can fail
for the right reason only. Everything else is real: git, asv's virtualenvs and builds (pip
wheel of a setuptools project), asv's runs and result files, perfguard's paired workers.

Two projects, each combining several of asv's features so the suite builds few environments:

- **shapes**: the config at the top level as ``asv quickstart --top-level`` writes it
  (``//`` comments, trailing comma, its ``.asv/results``); the Python project in a
  subdirectory of the repository (``repo_subdir``); a non-default ``benchmark_dir`` (``perf``);
  a parameterized benchmark with string and tuple params over a ``setup_cache``; a benchmark
  that fails on head only; ``time_resize`` 30 % slower on head.
- **minibus**: the config kept in ``benchmarks/`` (``"repo": ".."``) with a non-default
  ``benchmark_dir`` (``suites``) and ``results_dir`` (``measurements``); ``track_`` benchmarks
  with and without a unit; a ``mem_`` and a ``peakmem_``; ``time_route`` 30 % slower on head.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.countedclock import counted_clock_source

ASV = str(Path(sys.executable).with_name("asv"))
MACHINE = "acceptance"
SLOWDOWN = 1.3
TIME = ("time", "seconds", "lower", False)

CLOCK = counted_clock_source(20000)

SETUPTOOLS = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "1.0"

[tool.setuptools]
packages = ["{name}"]
"""

SHAPES = (
    '"""shapes: layouts of shapes (a tiny stand-in library)."""\n'
    + CLOCK
    + """
RESIZE = 1.0
EXPORT_BROKEN = False


def resize():
    return work(RESIZE)


def export():
    if EXPORT_BROKEN:
        raise RuntimeError("export is broken on this commit")
    return work(0.5)


def weights():
    return {"grid": 1.0, "ring": 0.5}
"""
)

SHAPES_BENCHMARKS = """import shapes

timer = shapes.clock  # asv's timer hook, for every benchmark of this module


def time_resize():
    shapes.resize()


def time_export():
    shapes.export()


class Layout:
    params = (["grid", "ring"], [(2, 1)])
    param_names = ["kind", "shape"]

    def setup_cache(self):
        return shapes.weights()

    def time_layout(self, weights, kind, shape):
        shapes.work(weights[kind] * shape[0] / shape[1])
"""

MINIBUS = (
    '"""minibus: a message bus (a tiny stand-in library)."""\n'
    + CLOCK
    + """
ROUTE = 1.0


def publish():
    return work(1.0)


def route():
    return work(ROUTE)


def queue_depth():
    return 17


def throughput():
    return 2500.0


def topics():
    return {f"topic-{i}": [i] * 8 for i in range(200)}


def backlog():
    return len(bytearray(8 * 1024 * 1024))
"""
)

MINIBUS_BENCHMARKS = """import minibus

timer = minibus.clock  # asv's timer hook, for every benchmark of this module


def time_publish():
    minibus.publish()


def time_route():
    minibus.route()


def track_queue_depth():
    return minibus.queue_depth()


def track_throughput():
    return minibus.throughput()


track_throughput.unit = "messages/s"


def mem_topics():
    return minibus.topics()


def peakmem_backlog():
    minibus.backlog()
"""


def edit_config(text: str, **fields: object) -> str:
    """asv's JSONC ``text`` with ``fields`` set, as a user edits it: a key already set gets the
    new value, a commented-out one (``// "key": ...``, also a commented multi-line list) is
    uncommented in place; every other byte (comments, trailing comma) stays."""
    for key, value in fields.items():
        rendered = f'"{key}": {json.dumps(value)},'
        pattern = re.compile(
            rf'^(?P<indent>[ ]*)(?://[ ]*)?"{re.escape(key)}": *'
            r"(?:\[\s*\n(?:[ ]*//.*\n)*?[ ]*//[ ]*\],|[^\n]*,)(?:[ ]*//[^\n]*)?$",
            re.M,
        )
        match = pattern.search(text)
        assert match is not None, f"asv quickstart's config has no {key!r} to edit"
        text = text[: match.start()] + match["indent"] + rendered + text[match.end() :]
    return text


@dataclass
class Project:
    """A git repository: ``main`` holds the base commit, ``feature`` (checked out) the head."""

    name: str
    root: Path
    home: Path
    config_dir: Path
    """Where asv.conf.json is: the user runs asv there."""
    results_dir: Path
    slowed: str
    untouched: list[str] = field(default_factory=list)
    failing: str | None = None
    kinds: dict[str, tuple[str, str, str, bool]] = field(default_factory=dict)
    """label -> (kind, unit, direction, direction assumed) the reports must show."""
    base: str = ""
    head: str = ""
    template: str = ""
    """The config exactly as `asv quickstart` wrote it, before the user's edits."""
    edited: frozenset[str] = frozenset()

    def env(self) -> dict[str, str]:
        """A user's shell: a private HOME (asv's machine file), this venv's tools first."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_", "ASV"))}
        env.update(
            HOME=str(self.home),
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache/pip")),
            GIT_AUTHOR_NAME="a user",
            GIT_AUTHOR_EMAIL="user@example.invalid",
            GIT_COMMITTER_NAME="a user",
            GIT_COMMITTER_EMAIL="user@example.invalid",
            GIT_CONFIG_GLOBAL="/dev/null",
            GIT_CONFIG_NOSYSTEM="1",
        )
        return env

    def sh(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            list(args),
            cwd=cwd or self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return done.stdout.strip()

    def write(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def commit(self, message: str) -> str:
        self.sh("git", "add", "-A")
        self.sh("git", "commit", "-q", "-m", message)
        return self.sh("git", "rev-parse", "HEAD")

    def quickstart(self) -> str:
        """``asv quickstart --top-level`` in config_dir; returns the config it wrote."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.sh(ASV, "quickstart", "--top-level", cwd=self.config_dir)
        self.template = (self.config_dir / "asv.conf.json").read_text(encoding="utf-8")
        return self.template

    def configure(self, **fields: object) -> None:
        """The user's edits of the quickstart config (see :func:`edit_config`)."""
        self.edited = frozenset(fields)
        text = edit_config(self.template, **fields)
        (self.config_dir / "asv.conf.json").write_text(text, encoding="utf-8")

    def branch(self, base_files: dict[str, str], head_files: dict[str, str]) -> None:
        """Commit the base on main, the head on feature (checked out); the user's machine."""
        self.write(base_files)
        self.base = self.commit("base")
        self.sh("git", "checkout", "-q", "-b", "feature")
        self.write(head_files)
        self.head = self.commit("head: slower and broken")
        self.sh(ASV, "machine", "--yes", "--machine", MACHINE, cwd=self.config_dir)


BUILD: dict[str, object] = {
    "build_command": [],
    "install_command": [
        "in-dir={env_dir} python -m pip install --no-deps --no-build-isolation {build_dir}"
    ],
    "uninstall_command": [],
}
"""Customized as the quickstart's comments invite: one `pip install` of the checkout per build
(pip replaces the installed copy itself), no separate wheel build and uninstall. Without build
isolation: the environment has setuptools, and the test needs no network for it. Each pip
start costs seconds here, and the suite builds six times."""


def shapes(root: Path, home: Path, env_dir: Path) -> Project:
    project = Project(
        "shapes",
        root,
        home,
        config_dir=root,
        results_dir=root / ".asv/results",
        slowed="bench_shapes.time_resize",
        untouched=[
            "bench_shapes.Layout.time_layout(kind='grid', shape=(2, 1))",
            "bench_shapes.Layout.time_layout(kind='ring', shape=(2, 1))",
        ],
        failing="bench_shapes.time_export",
        kinds={"bench_shapes.Layout.time_layout(kind='ring', shape=(2, 1))": TIME},
    )
    root.mkdir(parents=True)
    project.sh("git", "init", "-q", "-b", "main")
    project.quickstart()
    project.configure(
        project="shapes",
        project_url="https://example.invalid/shapes",
        repo_subdir="python",
        **BUILD,
        branches=["main"],
        benchmark_dir="perf",
        env_dir=str(env_dir),
    )
    for sample in (root / "benchmarks").iterdir():  # the quickstart's example suite
        if sample.is_file():
            sample.unlink()
    project.branch(
        {
            "python/pyproject.toml": SETUPTOOLS.format(name="shapes"),
            "python/shapes/__init__.py": SHAPES,
            "perf/__init__.py": "",
            "perf/bench_shapes.py": SHAPES_BENCHMARKS,
        },
        {
            "python/shapes/__init__.py": SHAPES.replace(
                "RESIZE = 1.0", f"RESIZE = {SLOWDOWN}"
            ).replace("EXPORT_BROKEN = False", "EXPORT_BROKEN = True")
        },
    )
    return project


def minibus(root: Path, home: Path, env_dir: Path) -> Project:
    project = Project(
        "minibus",
        root,
        home,
        config_dir=root / "benchmarks",
        results_dir=root / "benchmarks/measurements",
        slowed="bench_bus.time_route",
        untouched=[
            "bench_bus.time_publish",
            "bench_bus.track_queue_depth",
            "bench_bus.track_throughput",
            "bench_bus.mem_topics",
            "bench_bus.peakmem_backlog",
        ],
        kinds={
            "bench_bus.time_route": TIME,
            "bench_bus.track_queue_depth": ("track", "unit", "lower", True),
            "bench_bus.track_throughput": ("track", "messages/s", "higher", False),
            "bench_bus.mem_topics": ("mem", "bytes", "lower", False),
            "bench_bus.peakmem_backlog": ("peakmem", "bytes", "lower", False),
        },
    )
    root.mkdir(parents=True)
    project.sh("git", "init", "-q", "-b", "main")
    project.quickstart()
    project.configure(
        project="minibus",
        project_url="https://example.invalid/minibus",
        repo="..",
        **BUILD,
        benchmark_dir="suites",
        results_dir="measurements",
        env_dir=str(env_dir),
    )
    for sample in (project.config_dir / "benchmarks").iterdir():
        if sample.is_file():
            sample.unlink()
    ignore = project.config_dir / ".gitignore"
    ignore.write_text(ignore.read_text(encoding="utf-8") + "\nmeasurements/\n", encoding="utf-8")
    project.branch(
        {
            "pyproject.toml": SETUPTOOLS.format(name="minibus"),
            "minibus/__init__.py": MINIBUS,
            "benchmarks/suites/__init__.py": "",
            "benchmarks/suites/bench_bus.py": MINIBUS_BENCHMARKS,
        },
        {"minibus/__init__.py": MINIBUS.replace("ROUTE = 1.0", f"ROUTE = {SLOWDOWN}")},
    )
    return project
