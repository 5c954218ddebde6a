"""``compare --env all``: every environment a commit was measured in, gated in one comparison.

asv measures a commit once per environment (``virtualenv-py3.11``, ``conda-py3.12-numpy1.26``):
each environment of base is compared with the same environment of head, as its own comparison
under the same policy, and the comparisons are merged into one report whose rows carry the
environment as their first parameter (``suite.time_x(env=virtualenv-py3.12, n=10)``). The gate
fails when any environment's does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from perfguard.errors import InputError
from perfguard.models import Comparison, RunInfo

ALL = "all"
"""The ``--env`` value that asks for every environment present on both sides."""
ENV_PARAM = "env"
"""The parameter name a merged row's environment is shown under."""


def common(base: Sequence[str], head: Sequence[str]) -> tuple[list[str], list[str]]:
    """The environments both sides have, and a warning for each one only one side has."""
    shared = [env for env in base if env in head]
    if not shared:
        raise InputError(
            f"base and head have no environment in common (base: {', '.join(base) or 'none'};"
            f" head: {', '.join(head) or 'none'}); compare two with --env for each side's files"
        )
    warnings = [
        f"environment {env} has results for {side} only: not compared"
        for side, envs in (("base", base), ("head", head))
        for env in envs
        if env not in shared
    ]
    return shared, warnings


def merge(parts: Mapping[str, Comparison], warnings: Sequence[str] = ()) -> Comparison:
    """One comparison of every environment's: rows, budgets and warnings keyed by environment.

    A notice (a rule or budget that matched nothing) is kept when it holds in every
    environment. A suite shift is per environment: each is said in that environment's
    warning, and the merged comparison carries none of its own.
    """
    if not parts:
        raise ValueError("nothing to merge")
    envs = list(parts)
    first = parts[envs[0]]
    rows = tuple(
        replace(row, params=((ENV_PARAM, env), *row.params))
        for env, part in parts.items()
        for row in part.rows
    )
    budgets = tuple(
        replace(check, benchmark=f"{check.benchmark} [{ENV_PARAM}={env}]")
        for env, part in parts.items()
        for check in part.budgets
    )
    keyed = tuple(f"{env}: {w}" for env, part in parts.items() for w in part.warnings)
    notices = tuple(n for n in first.notices if all(n in p.notices for p in parts.values()))
    return Comparison(
        base=_side([p.base for p in parts.values()]),
        head=_side([p.head for p in parts.values()]),
        threshold=first.threshold,
        rows=rows,
        budgets=budgets,
        warnings=(*warnings, *keyed),
        shift=None,
        notices=notices,
    )


def _side(infos: Sequence[RunInfo]) -> RunInfo:
    """One side of the merged comparison: its commit and machine, every environment."""
    return replace(
        infos[0],
        env=", ".join(info.env for info in infos),
        source=", ".join(info.source for info in infos),
    )
