"""Shards: one suite measured by N runners, each pairing base and head on its own machine.

- :mod:`.partition` splits the suite into N shares balanced by expected cost, the same way on
  every runner that is given the same inputs;
- :mod:`.costs` says where the expected costs come from (a rounds file, asv's durations, or a
  count of parameter combinations);
- :mod:`.merge` checks N shard rounds files and merges them into one rounds file that every
  reader of a rounds file treats as one run.
"""
