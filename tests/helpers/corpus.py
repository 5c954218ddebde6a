"""The bundled Django asv corpus, unpacked on demand: one home for where it is and how to read it.

``tests/fixtures/django-asv-corpus.tar.xz`` holds 300 real asv result files of Django (10 MB of
JSON, 2 MB compressed; see ``tests/fixtures/django-asv-corpus.md``). Tests and scripts need them
as an ordinary asv results directory, so the archive is unpacked once per process into a
temporary directory that is removed at exit: a pytest session unpacks it once, whichever tests
use it, and a fresh clone needs nothing beside it.

Typical use::

    from tests.helpers.corpus import results_dir
    results = results_dir()            # .../django-asv/results (benchmarks.json, ubuntu-latest/)
"""

from __future__ import annotations

import atexit
import functools
import tarfile
import tempfile
from pathlib import Path

ARCHIVE = Path(__file__).resolve().parents[1] / "fixtures" / "django-asv-corpus.tar.xz"
MACHINE = "ubuntu-latest"
ENV = "conda-py3.12"


def unpack(archive: Path, into: Path) -> Path:
    """Unpack ``archive`` into ``into`` and return its ``django-asv`` directory.

    The ``data`` filter refuses absolute paths, links out of ``into`` and special files, so the
    archive can only ever write below ``into``. Pythons before 3.10.12 have no filters: there
    the archive may hold only plain files and folders with relative paths that stay inside.
    """
    with tarfile.open(archive, "r:xz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - Python < 3.10.12
            for member in tar.getmembers():
                inside = (into / member.name).resolve().is_relative_to(into.resolve())
                if not (member.isfile() or member.isdir()) or not inside:
                    raise ValueError(f"{archive}: refusing to unpack {member.name!r}")
            tar.extractall(into)
    root = into / "django-asv"
    if not (root / "results" / "benchmarks.json").is_file():
        raise FileNotFoundError(f"{archive} holds no django-asv/results/benchmarks.json")
    return root


@functools.cache
def corpus_dir() -> Path:
    """The unpacked corpus (``LICENSE``, ``README.md``, ``results/``), once per process."""
    scratch = tempfile.TemporaryDirectory(prefix="perfguard-django-asv-")
    atexit.register(scratch.cleanup)
    return unpack(ARCHIVE, Path(scratch.name))


def results_dir() -> Path:
    """The corpus's asv results directory: ``benchmarks.json`` and ``ubuntu-latest/*.json``."""
    return corpus_dir() / "results"


def result_files() -> list[Path]:
    """The 300 result files (``machine.json`` left out), sorted by name."""
    return sorted((results_dir() / MACHINE).glob(f"*-{ENV}.json"))
