"""A Python older than 3.10 is one sentence, before NumPy, Keras or any output."""

import os
import re
import shutil
import subprocess
import sys

import pytest

import inputs
from helpers import ROOT

REFUSAL = (
    "{script}: error: Python {version} is running this script, which needs Python "
    "3.10 or newer (3.10 to 3.13 are tested); run it with python3.10 or newer"
)
PASSING = [(3, 10, 0), (3, 13, 0), (3, 14, 1)]


@pytest.mark.parametrize("version", [(3, 8, 10), (3, 9, 18), *PASSING])
def test_a_python_older_than_3_10_is_one_sentence_and_newer_pass(version, monkeypatch):
    monkeypatch.setattr(sys, "version_info", (*version, "final", 0))
    monkeypatch.setattr(sys, "argv", ["gan.py"])
    if version in PASSING:
        return inputs.check_python()  # no SystemExit
    with pytest.raises(SystemExit) as stop:
        inputs.check_python()
    found = ".".join(map(str, version))
    assert stop.value.code == REFUSAL.format(script="gan.py", version=found)


@pytest.mark.slow
@pytest.mark.parametrize("script", ["gan.py", "evaluate.py", "sample.py"])
def test_python_3_9_gets_one_sentence_and_nothing_else(tmp_path, script):
    env = dict(os.environ, PYENV_VERSION="3.9")  # pyenv's python3.9; elsewhere unused
    python = shutil.which("python3.9")
    probe = python and subprocess.run([python, "-c", ""], env=env, capture_output=True)
    if not probe or probe.returncode:
        pytest.skip("no python3.9 here")
    where = dict(cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    result = subprocess.run([python, str(ROOT / script), "--help"], **where)
    assert (result.returncode, result.stdout) == (1, "")
    pattern = re.escape(REFUSAL.format(script=script, version="VERSION"))
    assert re.fullmatch(pattern.replace("VERSION", r"3\.9\.\d+") + "\n", result.stderr)
