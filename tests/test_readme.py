"""The README's Python snippets run as written (with ``../shared`` pointing at the test material)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.media import probe

README = Path(__file__).resolve().parent.parent / "README.md"


def python_snippets() -> list[str]:
    """The ```python blocks of the README's "Python" section, in order."""
    text = README.read_text()
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_python_section_has_snippets() -> None:
    snippets = python_snippets()
    assert len(snippets) == 2 and all("import livebg" in s for s in snippets)


def test_readme_python_snippets_run(
    shared_dir: Path, rvm_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for snippet in python_snippets():
        exec(compile(snippet.replace("../shared", str(shared_dir)), "README.md", "exec"), namespace)
    rgba, rgb, matte, picture = (namespace[k] for k in ("rgba", "rgb", "matte", "picture"))
    assert isinstance(rgba, np.ndarray) and rgba.shape == (1080, 1920, 4)
    assert isinstance(rgb, np.ndarray) and rgb.shape == (1080, 1920, 3)
    assert isinstance(picture, np.ndarray) and picture.shape == (512, 512, 3)
    clip = shared_dir / "data" / "greenscreen_man_face_512.mp4"
    written, source = probe(tmp_path / "face_blur.mp4"), probe(clip)
    assert namespace["result"].frames == written.frames == source.frames  # type: ignore[attr-defined]
    assert written.times == source.times
    assert matte.alpha.shape == (1080, 1920)  # type: ignore[attr-defined]
