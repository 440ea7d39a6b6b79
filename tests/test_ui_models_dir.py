"""`./run app --data-dir NEW_DIR` after `./run setup`: a fresh data dir finds the weights the set-up
fetched (one shared models folder) and answers a question with no extra step."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from assets import ASSETS, find_model
from memory.datadir import DataDir


@pytest.fixture
def setup_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment of a person who ran `./run setup`: no CITECLIP_* variables, the weights in the
    platform's default data dir (here a private XDG_DATA_HOME whose models/ is the tests' shared copy)."""
    shared = Path(os.environ.get("CITECLIP_MODELS") or DataDir.resolve().models_dir)
    if not shared.is_dir() or not any(shared.iterdir()):
        pytest.skip("the offline weights are not fetched (run ./run setup)")
    xdg = tmp_path / "xdg"
    (xdg / "citeclip").mkdir(parents=True)
    (xdg / "citeclip" / "models").symlink_to(shared, target_is_directory=True)
    monkeypatch.delenv("CITECLIP_MODELS", raising=False)
    monkeypatch.delenv("CITECLIP_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    return shared


def test_any_data_dir_finds_the_fetched_weights(setup_done: Path, tmp_path: Path) -> None:
    data = DataDir.resolve(tmp_path / "clips").ensure()
    assert data.root == (tmp_path / "clips").resolve() and not (data.root / "models").exists()
    fetched = [name for name in ASSETS if (setup_done / name).is_dir()]
    assert fetched, "no weights fetched"
    for name in fetched:
        assert find_model(name, data.models_dir).is_dir(), name
    assert DataDir.resolve(tmp_path / "other").models_dir == data.models_dir  # one shared folder


def test_the_override_still_wins(setup_done: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITECLIP_MODELS", str(tmp_path / "mine"))
    assert DataDir.resolve(tmp_path / "clips").models_dir == tmp_path / "mine"


@pytest.mark.slow  # indexes a real narrated clip (whisper, OCR, MiniLM) in a fresh data dir
def test_a_fresh_data_dir_answers_a_question(setup_done: Path, tmp_path: Path, narrated) -> None:
    from agent.policy import ScriptedPolicy
    from memory.library import Library
    from model.load import smollm2_gguf
    from ui.handlers import Handlers

    truth = narrated.copy_to(tmp_path / "fx")
    query = truth.queries[2].text
    library = Library(tmp_path / "clips", image_encoder=None)
    assert smollm2_gguf(library.data.models_dir).is_file()  # the app's own policy model is there too
    script = [{"action": "retrieve_clip", "arguments": {"query": query, "k": 3}},
              {"action": "verify_frame", "arguments": {"clip": "c1", "claim": f"the narrator talks about {query}"}},
              {"action": "answer", "arguments": {"text": f"{query} is mentioned in c1.", "citations": ["c1"]}}]
    h = Handlers(library, lambda: ScriptedPolicy(script))
    try:
        result = h.library_tab.ingest_and_index(truth.path, lambda *_: None)  # speech needs whisper, search MiniLM
        assert result["speech_segments"] > 0
        *_, last = h.ask_tab.ask(str(result["video_id"]), f"Where is {query} mentioned?")
        summary = last[-1]
        assert summary["status"] == "answered" and summary["citations"], summary
    finally:
        h.jobs.stop()
        library.close()
