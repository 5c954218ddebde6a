"""Writer processes for the crash tests, forked from a pre-imported parent to start fast.

``python crash_writer.py DIRECTORY`` starts a zygote: for each ``<run_id> <seed>`` line on its
stdin it forks a writer, prints ``pid <pid>``, waits for the writer to die and prints
``dead <pid> <wait status>``. The writer opens the store in DIRECTORY (small segments, so kills
also land around rotations) and runs four concurrent tasks that append single events and
small batches. After each append or batch returns it prints one line per event:
``<position> <id>``, where the id (run:task:sequence, unique) is also the event's payload.
Everything printed was acknowledged, so it must survive a SIGKILL. All lines of a writer come
before its ``dead`` line, because the zygote prints that only after the writer is gone.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys

from eventbus.store import FileEventStore, NewEvent

SEGMENT_BYTES = 16 * 1024


async def writer(store: FileEventStore, run_id: str, task: int, rng: random.Random) -> None:
    n = 0
    out = sys.stdout
    while True:
        size = rng.choice((1, 1, 1, 2, 5))
        ids = [f"{run_id}:{task}:{n + i}" for i in range(size)]
        n += size
        if size == 1:
            acked = [await store.append(f"w{task}", "Tick", ids[0].encode())]
        else:
            batch = [NewEvent(f"w{task}", "Batch", i.encode()) for i in ids]
            acked = await store.append_batch(batch)
        out.write("".join(f"{e.position} {e.payload.decode()}\n" for e in acked))
        out.flush()


async def write_forever(directory: str, run_id: str, seed: int) -> None:
    async with FileEventStore(directory, segment_bytes=SEGMENT_BYTES) as store:
        rng = random.Random(seed)
        rngs = [random.Random(rng.random()) for _ in range(4)]
        await asyncio.gather(*(writer(store, run_id, t, r) for t, r in enumerate(rngs)))


def zygote(directory: str) -> None:
    for command in sys.stdin:
        run_id, seed = command.split()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(write_forever(directory, run_id, int(seed)))
            finally:
                os._exit(1)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"dead {pid} {status}", flush=True)


if __name__ == "__main__":
    zygote(sys.argv[1])
