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
    archive can only ever write below ``into``.
    """
    with tarfile.open(archive, "r:xz") as tar:
        tar.extractall(into, filter="data")
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
