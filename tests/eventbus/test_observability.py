from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from eventbus import (
    ConsoleHandler,
    EventBus,
    HandlerFailed,
    JsonlFileHandler,
    Trace,
    TraceFilter,
    format_trace,
)
from eventbus.trace import encode_trace
from tests.eventbus.support import Add, Ping, Pong, run

ROOT = Path(__file__).resolve().parents[2]


def trace(kind: str = "delivered", message: object = None, **extra: object) -> Trace:
    return Trace(kind=kind, message=message or Ping(n=1), at=1_700_000_000.0, **extra)  # type: ignore[arg-type]


def read_lines(path: Path) -> list[dict[str, object]]:
    lines = path.read_bytes().splitlines()
    return [json.loads(line) for line in lines]  # every line must be one JSON object


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition a background task will make true; fails (not skips) on timeout."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)  # asyncio.timeout() needs Python 3.11


# ------------------------------------------------------------------ filters and formatting


def test_filter_by_type_session_and_kind() -> None:
    by_type = TraceFilter(types=[Ping])
    assert by_type(trace(message=Ping()))
    assert not by_type(trace(message=Pong()))
    by_session = TraceFilter(sessions=["s1"])
    assert by_session(trace(message=Ping(session_id="s1")))
    assert not by_session(trace(message=Ping(session_id="s2")))
    assert not by_session(trace(message=Ping()))
    by_kind = TraceFilter(kinds=["failed", "dropped"])
    assert by_kind(trace(kind="dropped"))
    assert not by_kind(trace(kind="delivered"))
    assert TraceFilter()(trace())


def test_format_trace_is_one_readable_line() -> None:
    message = Ping(n=1, id="abc", session_id="s1", correlation_id="c1")
    line = format_trace(
        trace(
            kind="failed",
            message=message,
            handler="mod.fn",
            error="ValueError: bad\nthing",
            latency_s=0.0000125,
        )
    )
    assert "\n" not in line
    assert line.split()[1:] == [
        "failed",
        "Ping",
        "id=abc",
        "session=s1",
        "correlation=c1",
        "handler=mod.fn",
        "latency=12.5us",
        "error='ValueError:",
        "bad\\nthing'",
    ]


def test_console_handler_prints_one_line_per_accepted_trace() -> None:
    stream = io.StringIO()

    async def scenario() -> ConsoleHandler:
        console = ConsoleHandler(stream, filter=TraceFilter(kinds=["delivered"]))
        async with EventBus() as bus:
            bus.observe(console)
            for n in range(3):
                await bus.publish(Ping(n=n))
            await bus.join()
        return console

    console = run(scenario())
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert all(" delivered " in line and " Ping " in line for line in lines)
    assert console.stats.written == 3


def test_console_handler_on_a_closed_stream_counts_errors() -> None:
    stream = io.StringIO()
    stream.close()
    console = ConsoleHandler(stream)
    console(trace())
    assert console.stats.errors == 1 and console.stats.lost == 1
    assert "cannot write to console" in (console.stats.last_error or "")


def test_console_handler_defaults_to_stderr() -> None:
    assert ConsoleHandler().stream is sys.stderr


# ------------------------------------------------------------------ JSONL


def test_encode_trace_embeds_the_message() -> None:
    line = json.loads(encode_trace(trace(message=Add(a=1, b=2, id="x"), latency_s=0.5)))
    assert line["kind"] == "delivered"
    assert line["message"]["a"] == 1 and line["message"]["type"] == "Add"
    assert line["latency_s"] == 0.5


def test_encode_trace_of_an_unencodable_message_stays_valid_json() -> None:
    line = json.loads(encode_trace(trace(message=Ping(n=object(), id="m1"), error="boom")))  # type: ignore[arg-type]
    assert line["message"] == {"type": "Ping", "id": "m1"}
    assert line["error"].startswith("boom; cannot encode Ping as JSON: field `n`")
    plain = json.loads(encode_trace(trace(message=Ping(n=object(), id="m2"))))  # type: ignore[arg-type]
    assert plain["error"].startswith("cannot encode Ping")


def test_a_bad_message_in_a_batch_does_not_spoil_the_others(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"

    async def scenario() -> JsonlFileHandler:
        log = JsonlFileHandler(path)
        log(trace(message=Ping(n=1)))
        log(trace(message=Ping(n=object())))  # type: ignore[arg-type]
        log(trace(message=Ping(n=3)))
        await log.aclose()
        return log

    log = run(scenario())
    lines = read_lines(path)
    assert [line["message"].get("n") for line in lines] == [1, None, 3]  # type: ignore[attr-defined]
    assert "field `n`" in str(lines[1]["error"])
    assert log.stats.written == 3


def test_jsonl_handler_writes_every_trace_as_a_json_line(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"

    def broken(event: Ping) -> None:
        if event.n == 2:
            raise RuntimeError("two")

    async def scenario() -> JsonlFileHandler:
        async with JsonlFileHandler(path) as log, EventBus() as bus:
            bus.observe(log)
            bus.subscribe(Ping, broken)
            for n in range(5):
                await bus.publish(Ping(n=n, session_id="s"))
            await bus.join()
        return log

    log = run(scenario())
    lines = read_lines(path)
    kinds = [line["kind"] for line in lines]
    assert kinds.count("published") == 6  # five Pings and one HandlerFailed
    assert kinds.count("delivered") == 6
    assert kinds.count("failed") == 1
    assert log.stats.written == len(lines) == 13
    assert log.stats.errors == 0
    failed = next(line for line in lines if line["kind"] == "failed")
    assert failed["error"] == "RuntimeError: two"


def test_jsonl_background_flush_without_close(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"

    async def scenario() -> None:
        log = JsonlFileHandler(path, flush_interval=0.01, batch_size=5)
        await log.start()
        await log.start()  # idempotent
        for n in range(12):
            log(trace(message=Ping(n=n)))
        await wait_until(lambda: log.stats.written == 12)
        assert len(read_lines(path)) == 12
        await log.aclose()

    run(scenario())


def test_jsonl_filter(tmp_path: Path) -> None:
    path = tmp_path / "failures.jsonl"

    async def scenario() -> None:
        log = JsonlFileHandler(path, filter=TraceFilter(types=[HandlerFailed, Pong]))
        log(trace(message=Ping()))
        log(trace(message=Pong(text="kept")))
        await log.aclose()

    run(scenario())
    assert [line["message"]["text"] for line in read_lines(path)] == ["kept"]  # type: ignore[index]


def test_jsonl_rotation_by_size(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"

    def same_size() -> Pong:  # fixed id and timestamp: every line has the same length
        return Pong(id="fixed", timestamp=1.5, text="x" * 100)

    line_size = len(encode_trace(trace(message=same_size()))) + 1

    async def scenario() -> JsonlFileHandler:
        log = JsonlFileHandler(path, max_bytes=line_size * 10, backups=2, batch_size=5)
        for _ in range(6):  # six batches of five lines: rotate every two batches
            for _ in range(5):
                log(trace(message=same_size()))
            await log.flush()
        await log.aclose()
        return log

    log = run(scenario())
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["bus.jsonl", "bus.jsonl.1", "bus.jsonl.2"]
    for name in files:
        lines = read_lines(tmp_path / name)
        assert len(lines) == 10
        assert (tmp_path / name).stat().st_size <= line_size * 10
    assert log.stats.rotations == 2
    assert log.stats.written == 30


def test_jsonl_rotation_without_backups_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"

    async def scenario() -> None:
        log = JsonlFileHandler(path, max_bytes=10, backups=0, batch_size=1)
        log(trace(message=Ping(n=1)))
        await log.flush()
        log(trace(message=Ping(n=2)))
        await log.aclose()

    run(scenario())
    assert [p.name for p in tmp_path.iterdir()] == ["bus.jsonl"]
    assert [line["message"]["n"] for line in read_lines(path)] == [2]  # type: ignore[index]


def test_jsonl_appends_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"
    path.write_text('{"kind": "earlier"}\n')

    async def scenario() -> None:
        log = JsonlFileHandler(path)
        log(trace())
        await log.aclose()

    run(scenario())
    assert [line["kind"] for line in read_lines(path)] == ["earlier", "delivered"]


def test_jsonl_buffer_is_bounded_and_counts_losses(tmp_path: Path) -> None:
    async def scenario() -> JsonlFileHandler:
        log = JsonlFileHandler(tmp_path / "x.jsonl", batch_size=2, max_buffer=4)
        for n in range(10):  # not started: batches wait, the oldest make room for the newest
            log(trace(message=Ping(n=n)))
        await log.aclose()
        return log

    log = run(scenario())
    assert log.stats.lost == log.stats.dropped_oldest == 6
    assert log.stats.written == 4
    assert [line["message"]["n"] for line in read_lines(tmp_path / "x.jsonl")] == [6, 7, 8, 9]  # type: ignore[index]


def test_jsonl_settings_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"max_buffer >= 2 \* batch_size"):
        JsonlFileHandler(tmp_path / "x", batch_size=10, max_buffer=15)


def run_bus_with_log(path: Path | str, events: int) -> tuple[EventBus, JsonlFileHandler]:
    async def scenario() -> tuple[EventBus, JsonlFileHandler]:
        async with JsonlFileHandler(path, batch_size=10) as log, EventBus() as bus:
            bus.observe(log)
            seen: list[int] = []
            bus.subscribe(Ping, lambda e: seen.append(e.n))
            for n in range(events):
                await bus.publish(Ping(n=n))
            await bus.join()
            assert seen == list(range(events))
        return bus, log

    return run(scenario())


def test_full_disk_is_counted_and_never_crashes_the_bus(caplog: pytest.LogCaptureFixture) -> None:
    bus, log = run_bus_with_log("/dev/full", 50)
    stats = bus.stats()
    assert stats.delivered == 50 and stats.observer_errors == 0
    assert log.stats.written == 0
    assert log.stats.lost == 100  # 50 published + 50 delivered traces
    assert log.stats.errors >= 1
    assert log.stats.last_error is not None
    assert log.stats.last_error.startswith("cannot write /dev/full: No space left on device")
    logged = [r.getMessage() for r in caplog.records if r.name == "eventbus.observability"]
    assert len(logged) == 1  # logged once per failure streak, counted every time
    assert logged[0].startswith("cannot write /dev/full: No space left on device")


def test_unwritable_path_is_counted_and_never_crashes_the_bus(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    bus, log = run_bus_with_log(not_a_dir / "bus.jsonl", 20)
    assert bus.stats().delivered == 20
    assert log.stats.lost == 40 and log.stats.written == 0
    assert "Not a directory" in (log.stats.last_error or "")


@pytest.fixture
def read_only_dir() -> Iterator[Path]:
    # Under /tmp, not pytest's 0700 tmp_path, so an unprivileged probe can reach it.
    directory = Path(tempfile.mkdtemp(prefix="eventbus-ro-"))
    directory.chmod(0o555)
    yield directory
    directory.chmod(0o755)
    shutil.rmtree(directory)


def probe(*args: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.eventbus.jsonl_probe", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome: dict[str, object] = json.loads(result.stdout)
    return outcome


@pytest.mark.integration
def test_read_only_directory_is_counted_and_never_crashes_the_bus(read_only_dir: Path) -> None:
    # The probe drops root privileges (root ignores directory permissions).
    outcome = probe(str(read_only_dir / "bus.jsonl"), "30", "--as-nobody")
    assert outcome["delivered"] == 30
    assert outcome["written"] == 0 and outcome["lost"] == 60
    assert "Permission denied" in str(outcome["last_error"])
    assert os.listdir(read_only_dir) == []


@pytest.mark.integration
def test_disk_filling_up_mid_batch_leaves_only_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"
    outcome = probe(str(path), "200", "--fsize", "20000")
    assert outcome["delivered"] == 200
    written, lost = outcome["written"], outcome["lost"]
    assert isinstance(written, int) and isinstance(lost, int)
    assert written + lost == 400 and lost > 0 and written > 0
    assert "File too large" in str(outcome["last_error"])
    assert len(read_lines(path)) == written  # a cut batch was truncated away
