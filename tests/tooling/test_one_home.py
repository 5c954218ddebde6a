"""Each concept has one home: a second copy of it in src/perfguard (or the CI scripts) fails here.

The homes: git and sha patterns in ``gitrefs``, atomic writes in ``atomicfile``, token
redaction in ``github.redact``, machine mismatch in ``fingerprint``, verdict counts on
``Comparison``, ``Key`` in ``models``, ``Adjust`` in ``compare``, ``CONFIDENCE`` in ``stats``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import perfguard
from perfguard import gitrefs
from perfguard.atomicfile import write_atomic

SRC = Path(perfguard.__file__).parent
ROOT = SRC.parent.parent


def sources() -> dict[str, str]:
    return {
        str(path.relative_to(SRC)): path.read_text(encoding="utf-8")
        for path in sorted(SRC.rglob("*.py"))
    }


def where(pattern: str) -> list[str]:
    return sorted(name for name, text in sources().items() if re.search(pattern, text, re.M))


def test_git_runs_in_one_place() -> None:
    assert where(r"\[\s*\"git\"") == ["gitrefs.py"]


def test_sha_patterns_live_in_gitrefs() -> None:
    assert where(r"0-9a-f") == ["gitrefs.py"]


def test_atomic_writes_live_in_atomicfile() -> None:
    assert where(r"os\.replace\(") == ["atomicfile.py"]


def test_machine_mismatch_lives_in_fingerprint() -> None:
    assert where(r"^MACHINE_KEYS =|^def (machine_mismatch|differing_machine_keys)") == [
        "fingerprint.py"
    ]


def test_a_comment_bodys_size_is_counted_in_report_fit() -> None:
    assert where(r"utf-16-le") == ["report/fit.py"]
    assert where(r"^def (fit_comment_body|fits_comment|comment_size)\b") == ["report/fit.py"]


def test_verdict_counting_lives_on_the_comparison() -> None:
    assert where(r"^\s*def verdict_counts\b") == ["models.py"]


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("Key", "models.py"),
        ("Adjust", "compare.py"),
        ("CONFIDENCE", "stats.py"),
        ("POWER", "stats.py"),
    ],
)
def test_shared_names_are_defined_once(name: str, home: str) -> None:
    defined = []
    for module, text in sources().items():
        for node in ast.parse(text).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                defined.append(module)
    assert defined == [home]


def test_the_ci_scripts_use_perfguards_sha_pattern_and_redaction() -> None:
    verify = (ROOT / "scripts" / "ci" / "verify-pr").read_text(encoding="utf-8")
    assert "FULL_SHA.pattern" in verify and "redact(" in verify
    assert "0-9a-f" not in verify and '"***"' not in verify
    # measure and asv-cache check their argument in bash (scripts/ci/refs.bash) before perfguard
    # runs: the same pattern, anchored.
    measure = (ROOT / "scripts" / "ci" / "refs.bash").read_text(encoding="utf-8")
    assert re.findall(r"\$head_sha =~ \^(\S+)\$ \]\]", measure) == [gitrefs.FULL_SHA.pattern]


def test_an_atomic_write_that_fails_leaves_the_target_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    folder = tmp_path / "folder"  # a rename onto a folder fails after the temporary was written
    folder.mkdir()
    (folder / "inside").write_text("kept")
    with pytest.raises(IsADirectoryError):
        write_atomic(folder, b"newer")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "report.md"]
    assert (folder / "inside").read_text() == "kept"
