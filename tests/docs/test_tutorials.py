"""The tutorials run as written: every ```python block of each, in order, in one
namespace, from the repository's folder (as a reader would run them)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((ROOT / "docs" / "tutorial").glob("*.md"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a Markdown text, in order."""
    return _BLOCK.findall(text)


def test_the_block_finder_finds_each_block() -> None:
    text = "a\n```python\nx = 1\n```\nb\n```bash\nls\n```\n```python\ny = x\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = x\n"]


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs(tutorial: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(ROOT)
    blocks = python_blocks(tutorial.read_text(encoding="utf-8"))
    assert blocks, f"{tutorial.name} has no python block"
    namespace: dict[str, object] = {"__name__": "__tutorial__"}
    try:
        for k, block in enumerate(blocks, 1):
            code = compile(block, f"{tutorial.name} block {k}", "exec")
            exec(code, namespace)  # the tutorial is this repository's own text
    finally:
        plt.close("all")
    assert os.getcwd() == str(ROOT)
