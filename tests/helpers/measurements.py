"""Builders for Measurement and ResultSet records in unit tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from perfguard.models import Kind, Measurement, Params, ResultSet, Status


def measurement(
    name: str = "bench.time_x",
    value: float | None = 1.0,
    *,
    kind: Kind = Kind.TIME,
    unit: str = "seconds",
    status: Status = Status.OK,
    samples: Sequence[float] | None = None,
    ci_99: tuple[float, float] | None = None,
    quartiles: tuple[float, float] | None = None,
    repeat: int | None = None,
    version: str | None = "v1",
    params: Params = (),
    processes: int | None = None,
) -> Measurement:
    return Measurement(
        benchmark=name,
        params=params,
        kind=kind,
        unit=unit,
        status=status,
        value=value,
        samples=tuple(samples) if samples is not None else None,
        ci_99=ci_99,
        quartiles=quartiles,
        repeat=repeat,
        version=version,
        processes=processes,
    )


def noisy(
    name: str, center: float, *, sd: float = 0.01, n: int = 20, seed: int = 0, **kw: object
) -> Measurement:
    """A time measurement with ``n`` log-normal samples around ``center``."""
    rng = np.random.default_rng(seed)
    samples = center * np.exp(rng.normal(0.0, sd, n))
    return measurement(name, float(np.median(samples)), samples=samples.tolist(), **kw)  # type: ignore[arg-type]


def result_set(
    *measurements: Measurement,
    commit: str = "a" * 40,
    machine: str = "box",
    env: str = "virtualenv-py3.11",
    machine_info: dict[str, str] | None = None,
) -> ResultSet:
    return ResultSet(
        commit=commit,
        machine=machine,
        env=env,
        source=f"{machine}/{commit[:8]}-{env}.json",
        machine_info=machine_info or {"machine": machine},
        measurements=tuple(measurements),
    )
