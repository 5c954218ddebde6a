"""What a bus does when its bounded queue is full; one policy per bus."""

from __future__ import annotations

import enum


class Backpressure(str, enum.Enum):
    """Queue-full policy. Every outcome other than `wait` succeeding is counted in the stats.

    - WAIT: publish() waits for space up to `put_timeout` seconds, then raises QueueFullError
      (counted as rejected). publish_nowait() raises at once.
    - REJECT: publish() raises QueueFullError at once (counted as rejected).
    - DROP_NEWEST: the new event is discarded (counted as dropped); publish() returns.
    - DROP_OLDEST: the oldest queued event is discarded (counted as dropped) to make room.
    """

    WAIT = "wait"
    REJECT = "reject"
    DROP_NEWEST = "drop_newest"
    DROP_OLDEST = "drop_oldest"
