"""The analyser applies the probe to the pooling it was fitted on; older mean-pooled assets still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from domains.sar.build_app_assets import build_assets
from domains.sar.embed import chip_embeddings
from domains.sar.inference import SarAnalyser
from jepa_core.errors import InputError
from jepa_core.eval.probes import C_GRID, C_LADDER

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples" / "sar"


@pytest.mark.parametrize("pool", ["grid4", "mean"])
def test_probe_sees_the_features_it_was_fitted_on(sar_test_model: Path, tmp_path: Path, pool: str):
    model = tmp_path / "model"
    shutil.copytree(sar_test_model, model)
    build_assets(model, SAMPLES / "mstar" / "train", per_class=3, pool=pool, log=lambda msg: None)
    analyser = SarAnalyser(model)
    assert analyser.probe.meta["pool"] == pool
    cv = analyser.probe.meta["c_cv_balanced_accuracy"]  # C picked by CV on the training chips
    assert {str(c) for c in C_GRID} <= set(cv) <= {str(c) for c in C_LADDER}
    assert analyser.probe.meta["c"] == float(max(cv, key=cv.get))
    got = analyser.analyse(next((SAMPLES / "mstar" / "test").rglob("*.jpeg")))
    x = torch.from_numpy(got.chip.x)[None]  # the model input the analyser prepared
    features = chip_embeddings(analyser.pre.encoder, x, pool=pool)
    np.testing.assert_allclose(got.proba, analyser.probe.predict_proba(features.astype(np.float64))[0], atol=1e-6)
    np.testing.assert_allclose(got.embedding, chip_embeddings(analyser.pre.encoder, x)[0], atol=1e-6)
    assert got.embedding.shape == (analyser.pre.encoder.embed_dim,)  # the map stays mean-pooled


def test_legacy_probe_without_pool_is_mean_and_a_mismatch_is_refused(sar_test_model: Path, tmp_path: Path):
    model = tmp_path / "model"
    shutil.copytree(sar_test_model, model)
    build_assets(model, SAMPLES / "mstar" / "train", per_class=3, pool="mean", probe_c=0.5, log=lambda msg: None)
    probe_path = model / "probes" / "mstar-soc.json"
    probe = json.loads(probe_path.read_text())
    assert probe["meta"]["c"] == 0.5 and probe["meta"]["c_cv_balanced_accuracy"] is None  # a fixed C, no CV
    del probe["meta"]["pool"]  # as written before grid pooling
    probe_path.write_text(json.dumps(probe))
    assert SarAnalyser(model).probe_pool == "mean"
    probe["meta"]["pool"] = "grid4"  # claims grid4 but holds mean-sized weights
    probe_path.write_text(json.dumps(probe))
    with pytest.raises(InputError, match="disagree on the embedding size"):
        SarAnalyser(model)
    probe["meta"]["pool"] = "max"
    probe_path.write_text(json.dumps(probe))
    with pytest.raises(InputError, match="unknown pool 'max'"):
        SarAnalyser(model)


def test_bundled_model_warns_on_ships_and_blank_images_not_on_mstar_chips(tmp_path: Path):
    """The probe always names an MSTAR vehicle: the analyser says when that means nothing."""
    from PIL import Image

    analyser = SarAnalyser(Path(__file__).resolve().parents[3] / "models" / "sar-tiny")
    for chip in sorted((SAMPLES / "mstar" / "test").rglob("*.jpeg"))[:4]:
        assert analyser.analyse(chip).warnings == [], chip
    for ship in sorted((SAMPLES / "opensarship").glob("*.tif")):  # Sentinel-1 ship patches: another sensor and object
        got = analyser.analyse(ship)
        assert got.nearest_ref > analyser.novelty.threshold
        assert [w.split(" (")[0] for w in got.warnings] == [
            "The chip's embedding is far from every labelled MSTAR reference"
        ]
    blank = np.zeros((64, 64), dtype=np.uint8)
    blank[30:34, 30:34] = 200  # a black figure with one bright spot
    Image.fromarray(blank).save(tmp_path / "blank.png")
    warnings = analyser.analyse(tmp_path / "blank.png").warnings
    assert warnings[0].startswith("99% of the chip's pixels are at the -30 dB floor") and len(warnings) == 2
