"""The command line starts light: ``twin --help`` and ``twin schema`` load no solver,
Mesa, SimPy or plots (plain imports are checked in tests/test_architecture.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("ortools", "mesa", "simpy", "matplotlib")


def _loaded(code: str) -> set[str]:
    """Top-level packages in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    return set(done.stdout.splitlines()[-1].split())


@pytest.mark.parametrize(
    "code",
    [
        # --help and schema, through the real entry point.
        "import sys; sys.argv = ['twin', '--help']\n"
        "from twin.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass",
        "import sys; sys.argv = ['twin', 'schema']\n"
        "from twin.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass",
    ],
)
def test_no_heavy_imports(code: str):
    assert not _loaded(code) & set(HEAVY)


def test_public_names_load_on_first_use():
    import twin

    for name in twin.__all__:
        assert getattr(twin, name) is not None
    assert set(twin.__all__) <= set(dir(twin))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        twin.nope  # noqa: B018
