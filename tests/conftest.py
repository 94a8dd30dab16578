import pytest
from hypothesis import HealthCheck, settings
from support import KIND_IDS, KINDS

settings.register_profile(
    "blart",
    deadline=None,
    max_examples=100,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        # The only function-scoped fixture the tests use is `kind`, an
        # immutable description of the map type: sharing it is safe.
        HealthCheck.function_scoped_fixture,
    ],
)
settings.load_profile("blart")


@pytest.fixture(params=KINDS, ids=KIND_IDS)
def kind(request):
    """Each mapping test runs once for TreeMap and once for BytesTreeMap."""
    return request.param


@pytest.fixture
def plain_nodes():
    """Maps made during the test have no buckets (the plain ART), for the
    tests of the inner nodes' shapes and of their file layout."""
    from blart import _blart

    old = _blart._set_bucket_limits(0, 2048)
    try:
        yield
    finally:
        _blart._set_bucket_limits(*old)
