"""The README's promises that can drift: its test command is CI's, its reference is current."""

from __future__ import annotations

from pathlib import Path

from monitor.config.loader import root_schema
from monitor.config.reference import markdown

ROOT = Path(__file__).parent.parent


def test_the_readme_config_reference_matches_the_schema():
    readme = (ROOT / "README.md").read_text()
    assert markdown(root_schema()) in readme, "run: siaga schema --markdown, paste into README"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "python3 -m pytest"
    top = readme[:readme.index("## ")]  # the two commands open the README
    assert f"pip install '.[test]' && {command}" in top
    assert "pip install . && siaga validate -c checks.yaml && siaga run -c checks.yaml" in top
    assert ci.rstrip().endswith(command)
