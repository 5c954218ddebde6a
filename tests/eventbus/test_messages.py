from __future__ import annotations

import subprocess
import sys

from eventbus import Command, Event, HandlerFailed, Message
from eventbus.messages import describe
from tests.eventbus.support import Add, Ping


def test_metadata_is_filled_in() -> None:
    event = Ping(n=1)
    assert event.id and isinstance(event.id, str)
    assert event.timestamp > 1_600_000_000
    assert event.session_id is None
    assert event.correlation_id is None
    assert event.causation_id is None


def test_ids_are_unique() -> None:
    ids = {Ping().id for _ in range(10_000)}
    assert len(ids) == 10_000


def test_caused_by_links_correlation_causation_and_session() -> None:
    root = Add(a=1, b=2, session_id="s1")
    child = Ping().caused_by(root)
    grandchild = Ping().caused_by(child)
    assert child.causation_id == root.id
    assert child.correlation_id == root.id
    assert child.session_id == "s1"
    assert grandchild.causation_id == child.id
    assert grandchild.correlation_id == root.id


def test_caused_by_keeps_an_explicit_session() -> None:
    child = Ping(session_id="mine").caused_by(Ping(session_id="other"))
    assert child.session_id == "mine"


def test_kinds_of_message() -> None:
    assert isinstance(Add(a=1, b=2), Command)
    assert isinstance(Ping(), Event)
    assert not isinstance(Ping(), Command)
    assert issubclass(HandlerFailed, Event)
    assert issubclass(Command, Message)


def test_describe_names_type_and_id() -> None:
    event = Ping(id="abc")
    assert describe(event) == "Ping(abc)"
    assert describe(object()) == "object(?)"


def test_forked_child_gets_fresh_id_prefix() -> None:
    # In a clean subprocess (no threads) so fork() is safe on every Python version.
    script = """
import os
from eventbus.messages import new_message_id
parent = new_message_id()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, new_message_id().encode())
    os._exit(0)
os.close(write)
child = os.read(read, 100).decode()
os.waitpid(pid, 0)
print(parent.split("-")[0], child.split("-")[0])
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    parent_prefix, child_prefix = result.stdout.split()
    assert parent_prefix != child_prefix
