"""Fixtures shared by every test module: fresh data dirs, the shared real clips, markers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from memory.datadir import DataDir
from memory.store import Store

ROOT = Path(__file__).resolve().parent.parent
SHARED_MEDIA = ROOT.parent / "shared" / "media"
ARTIFACTS = ROOT / "test-artifacts"

# Every fresh data dir in the tests reads the one copy of the offline weights that `./run test` fetched.
os.environ.setdefault("CITECLIP_MODELS", str(DataDir.resolve().models_dir))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch
        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if not has_cuda:
        skip = pytest.mark.skip(reason="needs CUDA")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    """An empty data dir of our own layout."""
    return DataDir(tmp_path / "citeclip").ensure()


@pytest.fixture
def fresh_db(data_dir: DataDir) -> Store:
    """A new SQLite library in a fresh data dir."""
    store = Store(data_dir.db_path)
    yield store
    store.close()


@pytest.fixture(scope="session")
def media() -> Path:
    """The real clips in ../shared/media (skips where the folder is absent)."""
    if not SHARED_MEDIA.is_dir():
        pytest.skip("../shared/media is not beside the checkout")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests leave screenshots and reports for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def narrated(tmp_path_factory: pytest.TempPathFactory):
    """The narrated fixture video and its truth (tests/fixtures/narrated.py), built once per test session.

    Shared by every module: read it, index it, never change or move it. A test that hands the file to
    something that may take it over (the app's uploads, a delete) works on `narrated.copy_to(dir)`.
    """
    from tests.fixtures.narrated import make_narrated
    return make_narrated(tmp_path_factory.mktemp("narrated"))


@pytest.fixture
def library(data_dir: DataDir):
    """A Library on the fresh data dir (image encoder "auto": none unless weights are present)."""
    from memory.library import Library
    lib = Library(data_dir)
    yield lib
    lib.close()
