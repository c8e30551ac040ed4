"""MSTAR split keys and k-shot sampling on the bundled chips."""

from pathlib import Path

import numpy as np
import pytest

from domains.sar.tasks import MSTAR_CLASSES, mstar_soc
from jepa_core.errors import InputError
from jepa_core.eval.probes import kshot_indices

MSTAR = Path(__file__).resolve().parents[3] / "data" / "samples" / "sar" / "mstar"


def test_split_keys_by_class_and_stem_and_is_disjoint():
    train, test = mstar_soc(MSTAR)
    assert set(train.labels) == set(test.labels) == set(MSTAR_CLASSES)
    assert all(i.split("/")[0] == lab for i, lab in zip(train.ids, train.labels, strict=True))
    assert len(set(train.ids)) == len(train.ids)  # class/stem is unique even where stems repeat
    assert not {p.resolve() for p in train.paths} & {p.resolve() for p in test.paths}


def test_split_refuses_a_file_on_both_sides(tmp_path):
    for side in ("train", "test"):
        (tmp_path / side / "T72").mkdir(parents=True)
    src = next((MSTAR / "train" / "T72").iterdir())
    (tmp_path / "train" / "T72" / src.name).write_bytes(src.read_bytes())
    (tmp_path / "test" / "T72" / src.name).symlink_to(tmp_path / "train" / "T72" / src.name)
    with pytest.raises(InputError, match="both sides"):
        mstar_soc(tmp_path)


def test_kshot_is_deterministic_per_seed_and_only_draws_training_chips():
    train, test = mstar_soc(MSTAR)
    for k in (1, 2, 3):
        a, b = kshot_indices(train.labels, k, seed=7), kshot_indices(train.labels, k, seed=7)
        np.testing.assert_array_equal(a, b)
        assert len(a) == k * len(MSTAR_CLASSES)
        assert all((train.labels[a] == c).sum() == k for c in MSTAR_CLASSES)
        assert not {train.paths[i].resolve() for i in a} & {p.resolve() for p in test.paths}
    draws = {tuple(kshot_indices(train.labels, 2, seed=s)) for s in range(5)}
    assert len(draws) > 1  # different seeds, different shots
