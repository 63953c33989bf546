import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same seeds, so failures reproduce."""
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()
