"""`brain components train` reads a training job's result from its metrics.json, never from its log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.cli.components import read_metrics


def test_the_registered_version_is_read_from_metrics_json(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    summary = {"component": "carbon_accounting", "version": {"version": 3}, "seconds": 1.5, "loss": []}
    path.write_text(json.dumps(summary))
    assert read_metrics(path) == summary


def test_a_missing_or_versionless_result_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        read_metrics(tmp_path / "absent.json")
    assert "cannot read the training job's result" in capsys.readouterr().err
    unregistered = tmp_path / "metrics.json"
    unregistered.write_text(json.dumps({"component": "carbon_accounting", "version": None}))
    with pytest.raises(SystemExit):
        read_metrics(unregistered)
    assert "names no registered version" in capsys.readouterr().err
