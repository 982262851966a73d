"""`make train` rebuilds the shipped topic model from tests/data: same model, same figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.topics.data import CORPUS
from monitor.tagging.model import DEFAULT_MODEL

pytest.importorskip("sklearn")


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus folder is absent")
def test_training_again_gives_the_shipped_model(tmp_path: Path) -> None:
    from bench.topics.train import main

    out = tmp_path / "model.json"
    assert main(["--out", str(out)]) == 0
    rebuilt, shipped = (json.loads(p.read_text()) for p in (out, DEFAULT_MODEL))
    assert rebuilt["version"] == shipped["version"]  # made from these very labels
    assert rebuilt["taxonomy"] == shipped["taxonomy"]
    for name, model in shipped["topics"].items():
        again = rebuilt["topics"][name]
        assert again["threshold"] == pytest.approx(model["threshold"], abs=1e-3), name
        assert again["bias"] == pytest.approx(model["bias"], abs=1e-3), name
        assert set(again["weights"]) ^ set(model["weights"]) <= {
            k for k, w in model["weights"].items() if abs(w) < 2e-3
        } | {k for k, w in again["weights"].items() if abs(w) < 2e-3}, name
        common = set(again["weights"]) & set(model["weights"])
        assert max(abs(again["weights"][k] - model["weights"][k]) for k in common) < 1e-3
