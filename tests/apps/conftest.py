from __future__ import annotations

from pathlib import Path

import pytest

from tests.apps.ecg_model import build_ecg_test_model


@pytest.fixture(scope="session")
def ecg_test_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ecg_test_model(tmp_path_factory.mktemp("ecg-test-model"))
