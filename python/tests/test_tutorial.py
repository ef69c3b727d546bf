"""docs/tutorial.md, run: every `python` block in order, in one namespace, against a fresh server."""

from __future__ import annotations

import os
import re

from conftest import REPO


def test_the_tutorial_runs_as_written(server, monkeypatch):
    text = (REPO / "docs/tutorial.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("WARDEN_URL", server.url)
    monkeypatch.setenv("WARDEN_TOKEN", server.admin_token)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/tutorial.md", "exec"), namespace)
    # What the page promises, checked.
    assert namespace["version"]["lineage"]["hyperparameters"]["C"] == 0.5
    assert namespace["decision"]["allow"] is True
    assert len(namespace["scored"]) == len(namespace["holdout"])
    assert os.environ["WARDEN_URL"] == namespace["warden"].url
