"""User mistakes end in one line on stderr, exit code 2, no traceback, nothing written."""
from __future__ import annotations

import pytest

from tests.helpers import train


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["model=lruu"], "unknown model 'lruu' (did you mean model=lru?)"),
        (["model.n_layerz=2"], "unknown key model.n_layerz (did you mean model.n_layers?)"),
        (["task.delay=-3"], "task.delay=-3"),
        (["model.param=expp"], "model.param='expp' is invalid"),
        (["-m", "model=lru,lstm", "task.dela=3"], "unknown key task.dela"),
    ],
)
def test_bad_input_is_one_clear_line(args, fragment, run_dirs, tmp_path):
    out = train(*args, *run_dirs, timeout=120)
    assert out.returncode == 2
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "results").exists()
