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


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "long(minutes): a test that trains or evaluates for about that many minutes on the CI machine; "
                   "run first, longest first, so that the two xdist workers finish together")


def pytest_collection_modifyitems(items):
    """Modules with long tests first, most minutes first, and in a module its long tests first,
    longest first; otherwise as collected. xdist hands the first tests out alternately, and a
    long test left for the end keeps one worker busy while the other idles. A module stays
    contiguous, so a worker builds each module-scoped fixture once."""
    def minutes(item):
        marker = item.get_closest_marker("long")
        return marker.kwargs.get("minutes", 1.0) if marker else 0.0

    module_minutes, first_seen = {}, {}
    for index, item in enumerate(items):
        module_minutes[item.module] = module_minutes.get(item.module, 0.0) + minutes(item)
        first_seen.setdefault(item.module, index)
    order = {id(item): index for index, item in enumerate(items)}
    items.sort(key=lambda item: (-module_minutes[item.module], first_seen[item.module], -minutes(item),
                                 order[id(item)]))
