"""The heap-measuring helper on a real imported module."""
import numpy as np
import pytest

from cowfast.models import heapmap
from cowfast.models.prefork import PreforkConfig, run

MODULE = '''
import random
TOGETHER = [float(i) for i in range(20000)]        # 32-byte blocks, allocated in a row
_noise, SCATTERED = [], []
for i in range(20000):
    _noise.append([float(j) for j in range(30)])   # each hot float among 30 others
    SCATTERED.append(float(i) + 0.5)
del _noise                                         # freed: the hot floats stay scattered
'''


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    d = tmp_path_factory.mktemp("app")
    (d / "cowfast_test_app.py").write_text(MODULE)
    return d


def test_objects_allocated_together_share_pages(app):
    """20 000 floats made in a row: pymalloc packs them about 128 a page."""
    m = heapmap.measure("cowfast_test_app", root="TOGETHER", path=[app])
    assert len(m.object_pages) == 20000
    assert (m.object_sizes == 24).all()
    assert 100 < m.pages_shared() <= 128


def test_objects_allocated_among_others_are_scattered(app):
    """Each hot float made among 30 others: a few hot floats a page at most."""
    m = heapmap.measure("cowfast_test_app", root="SCATTERED", path=[app])
    assert len(m.object_pages) == 20000
    assert m.pages_shared() < 10


def test_the_prefork_model_uses_the_measured_map(app, tmp_path):
    """Reading every hot object copies exactly the pages the map gives them."""
    for root in ("TOGETHER", "SCATTERED"):
        m = heapmap.measure("cowfast_test_app", root=root, path=[app])
        path = m.save(tmp_path / f"{root}.npz")
        r = run(PreforkConfig(placement=str(path), workers=1, requests=1,
                              objects_per_request=20000, distribution="sequential",
                              gc_every=0, samples=1))
        assert r.summary["worker_cow_copies"] == len(np.unique(m.object_pages))


def test_import_failure_is_reported(app):
    with pytest.raises(RuntimeError, match="no_such_module"):
        heapmap.measure("no_such_module", path=[app])


def test_bad_map_file_is_refused(tmp_path):
    np.savez(tmp_path / "x.npz", something=np.arange(3))
    with pytest.raises(ValueError, match="not a heap map"):
        heapmap.HeapMap.load(tmp_path / "x.npz")
