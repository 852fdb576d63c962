"""The docs hold: the Python tutorials run as written (every ```python block of
each, in order, in one namespace, from the repository's folder, as a reader would
run them), the index links every page, and the KPI reference lists every KPI."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
#: The tutorials written in Python (the command-line one is checked by its commands'
#: own tests: tests/cli).
TUTORIALS = sorted(
    p for p in (ROOT / "docs" / "tutorial").glob("*.md") if _BLOCK.search(p.read_text("utf-8"))
)


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


def test_the_index_links_every_page() -> None:
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md"))
    missing = [p for p in pages if p != "README.md" and f"]({p})" not in index]
    assert not missing, f"docs/README.md does not link {missing}"
    for link in re.findall(r"\]\(([^)]+)\)", index):
        assert (ROOT / "docs" / link).is_file(), f"docs/README.md links a missing {link}"


def test_the_kpi_reference_lists_every_kpi() -> None:
    from twin.metrics import KPI_NAMES

    text = (ROOT / "docs" / "reference" / "kpis.md").read_text(encoding="utf-8")
    missing = [k for k in KPI_NAMES if f"`{k}`" not in text]
    assert not missing, f"docs/reference/kpis.md lacks {missing}"
