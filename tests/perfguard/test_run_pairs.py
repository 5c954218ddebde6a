"""Paired workers with real processes: asv_runner loads real benchmark files in the test's Python.

Both "environments" are this interpreter; what makes base and head differ is a variable in
each side's environment that the benchmarks read. The layout checks read the kernel's view of
the worker (``/proc/self/personality``, ``/proc/self/stat``), so they hold only on Linux, where
perfguard's CI runs.
"""

from __future__ import annotations

import math
import os
import random
import sys
import tempfile
from pathlib import Path

import pytest

from perfguard.runner import pairs
from perfguard.runner.pairs import Launch, PairedRound

BENCHMARKS = """
import os
import time

SCALE = float(os.environ.get("SCALE", "1"))
_ticks = 0.0


def clock():
    return _ticks


def time_counted():
    global _ticks
    _ticks += 0.001 * SCALE


time_counted.timer = clock


def track_personality():
    with open("/proc/self/personality") as f:
        return int(f.read(), 16)


def track_hash_seed():
    return int(os.environ["PYTHONHASHSEED"])


def track_stack_start():
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[25])


def track_cpus():
    return sum(1 << c for c in os.sched_getaffinity(0))


def track_chatty():
    print("benchmarks may print; the protocol must not care")
    return 7


def track_once():
    return 7


track_once.once_per_process = True


def peakmem_big_list():
    [0] * int(2_000_000 * SCALE)


def mem_list():
    return [0] * 1000


def track_failing():
    raise RuntimeError("this benchmark is broken")


def time_slow():
    time.sleep(5)


time_slow.timeout = 0.5


def track_quarter_second():
    time.sleep(0.25)
    return 1.0


def time_exits():
    os._exit(3)


def time_segfaults():
    import ctypes

    ctypes.string_at(0)


def track_pid():
    return os.getpid()


def track_parent_pid():
    return os.getppid()


class Skipped:
    def setup(self):
        raise NotImplementedError("not on this side")

    def track_never(self):
        return 1


class Cached:
    def setup_cache(self):
        with open("made-by-setup-cache", "w") as f:
            f.write("x")
        return 41

    def track_cache(self, cache):
        return cache + 1


class SlowCache:
    def setup_cache(self):
        with open(os.environ["SETUP_CACHE_LOG"], "a") as f:
            f.write("ran\\n")
        time.sleep(30)

    setup_cache.timeout = 0.5

    def track_slow_cache(self, cache):
        return 1


class Params:
    params = [1, 2, 3]
    param_names = ["n"]

    def track_param(self, n):
        return n * SCALE
"""


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("pairs") / "benchmarks"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "bench_pairs.py").write_text(BENCHMARKS)
    return str(root)


def launches(base_scale: str = "1", head_scale: str = "1") -> dict[str, Launch]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {
        "base": Launch(python=sys.executable, env={**env, "SCALE": base_scale}),
        "head": Launch(
            python=sys.executable,
            # a longer environment on one side, as two asv environments' paths differ
            env={**env, "SCALE": head_scale, "ASV_ENV_DIR": "/a/much/longer/path" * 5},
        ),
    }


def measure(
    suite: str,
    name: str,
    *,
    seed: int = 1,
    pairs_count: int = 4,
    sides: dict[str, Launch] | None = None,
    timeout: float = 30.0,
    once: bool = False,
) -> PairedRound:
    return pairs.measure(
        sides or launches(),
        suite,
        f"bench_pairs.{name}",
        extra_params={},
        pairs=pairs_count,
        rng=random.Random(seed),
        base_first=True,
        timeout=timeout,
        once=once,
    )


def test_time_benchmarks_give_one_sample_per_pair_and_the_paired_ratio(suite: str) -> None:
    got = measure(suite, "time_counted", sides=launches("1", "1.3"), pairs_count=6)
    assert len(got.base.samples) == len(got.head.samples) == 6
    assert got.base.number is not None and got.base.number >= 1
    assert got.base.samples[0] == pytest.approx(0.001)
    assert got.log_ratio == pytest.approx(math.log(1.3))
    assert got.orders[0] is True and len(got.orders) == 6


def test_both_workers_share_cpu_hash_seed_and_stack_layout(suite: str) -> None:
    first = measure(suite, "track_stack_start", seed=3)
    assert first.base.samples == first.head.samples  # same stack start despite unequal envs
    other = measure(suite, "track_stack_start", seed=4)
    assert other.base.samples == other.head.samples
    assert first.base.samples != other.base.samples  # a new offset every round

    seeds = measure(suite, "track_hash_seed", seed=3)
    assert seeds.base.samples == seeds.head.samples == [float(first.layout.hash_seed)] * 4

    cpus = measure(suite, "track_cpus", seed=3)
    assert cpus.base.samples == cpus.head.samples == [float(1 << first.layout.cpu)] * 4  # type: ignore[operator]

    personality = measure(suite, "track_personality")
    assert int(personality.base.samples[0]) & pairs.ADDR_NO_RANDOMIZE


def test_the_layout_and_the_orders_are_drawn_from_the_seed() -> None:
    draw = pairs.draw_layout
    assert draw(random.Random(5)) == draw(random.Random(5))
    layout = draw(random.Random(5))
    assert 0 <= layout.pad < 4096
    assert layout.cpu in os.sched_getaffinity(0)
    orders = pairs.draw_orders(random.Random(5), 8, base_first=False)
    assert orders == pairs.draw_orders(random.Random(5), 8, base_first=False)
    assert orders[0] is False and len(orders) == 8


def test_padding_makes_both_stacks_the_same_size() -> None:
    layout = pairs.draw_layout(random.Random(2))
    args = {"base": ["dir", "{}", "0", "/caches/base"], "head": ["dir", "{}", "0", "/caches/head"]}
    commands = pairs.worker_commands(launches(), args, layout)
    sizes = {pairs._stack_bytes(argv, env) for argv, env in commands.values()}
    assert len(sizes) == 1
    smaller = min(len(env[pairs.PAD_VARIABLE]) for _, env in commands.values())
    assert smaller == layout.pad


def test_track_benchmarks_are_sampled_in_pairs(suite: str) -> None:
    got = measure(suite, "track_chatty", pairs_count=10)
    assert got.base.samples == got.head.samples == [7.0] * 10
    assert got.base.paired and got.log_ratio == 0.0


def test_a_slow_body_gets_pairs_for_about_two_seconds_a_round_not_all_of_them(
    suite: str,
) -> None:
    got = measure(suite, "track_quarter_second", pairs_count=16)
    # 0.5 s a pair: no pair starts once 2 s (pairs.PAIR_SECONDS) are spent, at least one runs
    assert pairs.PAIR_SECONDS == 2.0
    assert 1 <= len(got.base.samples) == len(got.head.samples) <= 4
    assert got.base.paired and got.log_ratio == 0.0


def test_once_per_process_track_benchmarks_give_one_value_per_worker(suite: str) -> None:
    got = measure(suite, "track_once", pairs_count=10)
    assert got.base.samples == got.head.samples == [7.0]
    assert not got.base.paired and got.log_ratio == 0.0
    ruled = measure(suite, "track_chatty", pairs_count=10, once=True)  # a rule says so
    assert ruled.base.samples == ruled.head.samples == [7.0]
    assert not ruled.base.paired


def test_memory_benchmarks_give_asv_s_value_once_per_worker(suite: str) -> None:
    """peakmem: the worker's peak RSS after the call; a head allocating twice as much peaks
    higher. mem: the size of the returned object, the same on both sides."""
    peak = measure(suite, "peakmem_big_list", sides=launches("1", "4"))
    [base], [head] = peak.base.samples, peak.head.samples
    assert head - base > 5_000_000  # head's list has 6e6 more slots of 8 bytes
    size = measure(suite, "mem_list", pairs_count=10)
    assert size.base.samples == size.head.samples
    assert size.base.samples[0] >= 8000


def test_parameter_combinations_by_asv_index(suite: str) -> None:
    got = measure(suite, "Params.track_param-2", sides=launches("1", "2"))
    assert (got.base.samples, got.head.samples) == ([3.0] * 4, [6.0] * 4)


def test_setup_cache_runs_in_the_worker(suite: str) -> None:
    got = measure(suite, "Cached.track_cache")
    assert got.base.samples == got.head.samples == [42.0] * 4


def test_a_skipped_benchmark_is_skipped_not_failed(suite: str) -> None:
    got = measure(suite, "Skipped.track_never")
    assert got.base.skipped and got.head.skipped
    assert not got.base.error and got.log_ratio is None


def test_a_failing_benchmark_reports_the_traceback(suite: str) -> None:
    got = measure(suite, "track_failing")
    assert "this benchmark is broken" in got.base.error
    assert got.base.samples == [] and got.log_ratio is None


def test_a_benchmark_over_its_timeout_is_stopped(suite: str) -> None:
    got = measure(suite, "time_slow", timeout=0.5)
    assert "no answer within 0.5s" in got.base.error or "no answer within 0.5s" in got.head.error
    assert got.log_ratio is None


def test_an_unknown_benchmark_is_an_error_not_a_hang(suite: str) -> None:
    got = measure(suite, "track_missing")
    assert got.base.error and got.head.error


def test_a_worker_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    broken = Launch(python=sys.executable, env={"PYTHONPATH": str(tmp_path)})
    (tmp_path / "asv_runner.py").write_text("raise SystemExit(3)\n")
    got = measure(str(tmp_path), "track_x", sides={"base": broken, "head": broken})
    assert "exited with code 3" in got.base.error


def one_round(suite: str, names: list[str], seed: int = 1) -> tuple[list[PairedRound], pairs.Round]:
    """Several benchmarks in one round: the same two workers unless one had to be replaced."""
    rng = random.Random(seed)
    got = []
    with tempfile.TemporaryDirectory() as caches:
        session = pairs.Round(launches(), suite, {}, pairs.draw_layout(rng), Path(caches))
        try:
            for name in names:
                got.append(
                    session.measure(
                        f"bench_pairs.{name}",
                        pairs=3,
                        orders=pairs.draw_orders(rng, 3, base_first=True),
                        timeout=2.0,
                    )
                )
        finally:
            session.close()
    return got, session


def test_one_worker_per_side_serves_the_round_with_a_child_per_benchmark(suite: str) -> None:
    (pid, again, parent, other), session = one_round(
        suite, ["track_pid", "track_pid", "track_parent_pid", "track_parent_pid"]
    )
    assert session.started == {"base": 1, "head": 1}
    assert len(set(pid.base.samples)) == 1  # one child answers every sample of a benchmark
    assert set(pid.base.samples) != set(again.base.samples)  # a new child per benchmark
    assert set(pid.base.samples) != set(pid.head.samples)
    assert parent.base.samples == other.base.samples  # ... forked from the same worker
    assert parent.base.samples != parent.head.samples


def test_a_crashing_benchmark_fails_alone_and_the_round_goes_on(suite: str) -> None:
    (exits, segfaults, after), session = one_round(
        suite, ["time_exits", "time_segfaults", "track_chatty"]
    )
    assert "benchmark process exited with code 3" in exits.base.error
    assert "benchmark process exited with code 3" in exits.head.error
    assert "killed by SIGSEGV" in segfaults.base.error
    assert exits.log_ratio is None and segfaults.log_ratio is None
    assert after.base.samples == after.head.samples == [7.0] * 3
    assert not after.base.error and session.started == {"base": 1, "head": 1}


def test_after_a_timeout_a_fresh_worker_serves_the_rest_of_the_round(suite: str) -> None:
    (slow, after), session = one_round(suite, ["time_slow", "track_chatty"])
    assert "no answer within 2s" in slow.base.error
    assert after.base.samples == after.head.samples == [7.0] * 3
    assert session.started == {"base": 2, "head": 2}


def test_a_setup_cache_over_its_timeout_fails_once_per_run_not_every_round(
    suite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker kills a ``setup_cache`` at its own timeout and marks it failed for the run:
    later rounds report the failure at once, without running it (or replacing a worker) again."""
    log = tmp_path / "setup-cache-runs"
    monkeypatch.setenv("SETUP_CACHE_LOG", str(log))
    rng = random.Random(1)
    caches = tmp_path / "caches"
    for _ in range(3):  # three rounds of one run: one cache root
        session = pairs.Round(launches(), suite, {}, pairs.draw_layout(rng), caches)
        try:
            got = session.measure(
                "bench_pairs.SlowCache.track_slow_cache",
                pairs=2,
                orders=pairs.draw_orders(rng, 2, base_first=True),
                timeout=20.0,
            )
        finally:
            session.close()
        for side in (got.base, got.head):
            assert "setup_cache timed out after 0.5s" in side.error
        assert session.started == {"base": 1, "head": 1}  # no worker was killed for it
    assert log.read_text().splitlines() == ["ran", "ran"]  # once per side, in round 1 only


def test_a_peakmem_child_starts_from_the_whole_suite_imported_as_in_asv(tmp_path: Path) -> None:
    """asv's forkserver imports every benchmark module before it forks a benchmark, so a
    ``peakmem_`` value includes the suite's imports; perfguard's worker does the same, so the
    value is asv's and does not depend on which benchmarks the round measured first."""
    root = tmp_path / "benchmarks"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "bench_small.py").write_text("def peakmem_small():\n    [0] * 1000\n")
    # 60 MB written at import time (resident, unlike a zero-filled bytearray)
    (root / "bench_heavy.py").write_text(
        "BALLAST = b'x' * 60_000_000\n\n\ndef track_nothing():\n    return 1\n"
    )
    rng = random.Random(1)

    def peaks(names: list[str]) -> list[float]:
        session = pairs.Round(launches(), str(root), {}, pairs.draw_layout(rng), tmp_path / "c")
        try:
            got = [
                session.measure(
                    name, pairs=1, orders=pairs.draw_orders(rng, 1, base_first=True), timeout=30.0
                )
                for name in names
            ]
        finally:
            session.close()
        small = got[-1]
        assert not small.base.error and not small.head.error
        return small.base.samples + small.head.samples

    alone = peaks(["bench_small.peakmem_small"])
    after = peaks(["bench_heavy.track_nothing", "bench_small.peakmem_small"])
    assert min(alone) > 60_000_000  # the heavy module was imported before the fork
    assert max(abs(a - b) for a, b in zip(alone, after, strict=True)) < 5_000_000
