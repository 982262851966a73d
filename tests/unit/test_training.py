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


def test_the_threshold_is_the_best_f1_that_keeps_the_precision() -> None:
    from bench.topics.train import best_threshold

    scored = [(0.95, True), (0.9, True), (0.8, False), (0.7, True), (0.6, True), (0.5, False)]
    # Keeping down to 0.6: P 4/5 = 0.8, F1 0.89; down to 0.9: P 1.0, F1 0.67.
    assert best_threshold(scored, 0.8) == 0.6
    assert best_threshold(scored, 0.9) == 0.9
    assert best_threshold(scored, 0.5) == 0.6  # lower still only adds a false positive


def test_equal_confidences_are_kept_or_left_together() -> None:
    from bench.topics.train import best_threshold

    # 0.7 keeps a true and a false article at once: precision 2/3 is below 0.9.
    scored = [(0.9, True), (0.7, True), (0.7, False), (0.6, True)]
    assert best_threshold(scored, 0.9) == 0.9
    assert best_threshold(scored, 0.6) == 0.6


def test_no_threshold_reaches_the_precision_keeps_nothing() -> None:
    from bench.topics.train import best_threshold

    assert best_threshold([(0.8, False), (0.6, True)], 0.9) == 1.0


def test_the_threshold_is_rounded_down_so_it_keeps_its_article() -> None:
    from bench.topics.train import best_threshold

    assert best_threshold([(0.71516, True), (0.2, False)], 0.9) == 0.7151
