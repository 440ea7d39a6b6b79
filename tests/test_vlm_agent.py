"""The agent on the full profile, end to end on CPU, with a tiny RANDOM vision-language model (tests only).

The model (tests/fixtures/tiny_vlm_chat.py) is built from a config and converted to M2LA; it knows nothing,
so its decisions are arbitrary but always schema-valid (grammar-constrained), which is what the loop needs.
A hook on its vision tower counts what reaches it.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from agent.export import export
from agent.loop import Budget, run
from agent.policy import LocalPolicy, ScriptedPolicy, make_policy
from agent.session import session_json
from assets.registry import FULL_VLM, env_var
from tests.fixtures.agent_fake import Row, fake_library
from tests.fixtures.tiny_vlm_chat import FOLDER_NAME, MERGE, write_tiny_vlm

DURATION = 60.0
SPEECH = [Row(10.0, 16.0, "a red car drives past the bakery"), Row(30.0, 36.0, "the bus stops at the corner")]
QUESTION = "when does the red car drive past?"


@pytest.fixture(scope="module")
def vlm_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_vlm(tmp_path_factory.mktemp("models"))


@pytest.fixture
def full(vlm_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(a fake library, the full profile's policy over the tiny VLM, the image grids its tower received)."""
    import torch

    monkeypatch.setenv(env_var(FULL_VLM), str(vlm_folder))
    torch.set_num_threads(1)
    lib = fake_library(tmp_path, duration_s=DURATION, speech=SPEECH, size=(320, 180))
    policy = make_policy("full", lib)
    grids: list = []
    policy.model.model.visual.register_forward_hook(
        lambda _m, _args, kwargs, _out: grids.append(kwargs["grid_thw"].clone()), with_kwargs=True)
    yield lib, policy, grids
    lib.close()


def _parses(lib, sid: int) -> dict:
    """Every export that needs no video file, parsed back; returns the JSON export."""
    import pysubs2

    obj = json.loads(export(lib, sid, "json").read_text())
    rows = list(csv.reader(export(lib, sid, "csv").open()))
    assert rows[0][:4] == ["n", "video_id", "start_s", "end_s"] and len(rows) == 1 + len(obj["citations"])
    for fmt in ("srt", "vtt"):
        assert len(pysubs2.load(str(export(lib, sid, fmt)), format_=fmt)) == len(obj["citations"])
    if obj["citations"]:  # chapters need cited moments; the EDL of none fails (agent/export.py: an empty track)
        assert export(lib, sid, "edl").read_text().startswith("TITLE:")
        assert export(lib, sid, "chapters").read_text().strip()
    return obj


def test_the_full_profile_is_the_local_vlm_on_the_open_planner(full) -> None:
    lib, policy, _ = full
    assert isinstance(policy, LocalPolicy) and policy.name == "local-full"
    assert not policy.narrow and policy.sees_images
    assert policy.model.model_id == FOLDER_NAME  # says what it is: a random tiny model, tests only
    import torch

    # on a CUDA machine (bench/gpu_agent.sh) the whole model is there, in bf16
    want = ("cuda", torch.bfloat16) if torch.cuda.is_available() else ("cpu", torch.float32)
    assert {(p.device.type, p.dtype) for p in policy.model.model.parameters()} == {want}


def test_the_vlm_decides_every_step_under_the_open_schema(full) -> None:
    lib, policy, grids = full
    schemas: list[dict] = []
    decide = policy.decide
    policy.decide = lambda messages, schema, **kw: schemas.append(schema) or decide(messages, schema, **kw)
    events = list(run(lib, lib.video_id, QUESTION, policy, Budget(max_steps=3)))
    assert schemas, "the policy was never asked"
    for schema in schemas:  # the open planner: any tool or an answer, under one schema
        actions = {option["properties"]["action"]["const"] for option in schema["anyOf"]}
        assert actions <= {"retrieve_clip", "verify_frame", "answer"} and "answer" in actions
    calls = [e for e in events if e.kind == "tool_call"]
    assert calls or events[-1].kind == "answer"  # each decision became a call or the answer
    saved = session_json(lib.store, events[0].session_id)
    assert [s["kind"] for s in saved["steps"]] == [e.kind for e in events]
    _parses(lib, events[0].session_id)


def test_verify_frame_shows_the_vlm_several_frames_of_the_clip(full) -> None:
    lib, policy, grids = full
    frames = 4
    # The first two moves are fixed so that a clip is verified; the VLM judges it and decides the rest.
    pol = ScriptedPolicy([{"action": "retrieve_clip", "arguments": {"query": "red car"}},
                          {"action": "verify_frame", "arguments": {"clip": "c1", "claim": "a red car drives past"}},
                          lambda messages, schema: policy.decide(messages, schema, max_new_tokens=320).raw],
                         narrow=False, judge=policy.judge)
    events = list(run(lib, lib.video_id, QUESTION, pol, Budget(max_steps=3)))
    ver = next(e for e in events if e.kind == "verification" and not e.error)
    assert ver.ref == "c1" and "vlm" in ver.methods
    # N frames, spread over the clip, reached the vision tower in one prompt
    assert len(grids) >= 1 and grids[0].shape[0] == frames
    side = 64 // 16  # the fixture's processor: at most 64 x 64 pixels, 16-pixel patches
    assert int(grids[0].prod(dim=1).sum()) <= frames * side * side
    assert int(grids[0].prod(dim=1).sum()) // MERGE ** 2 >= frames  # at least one visual token a frame
    times = [f["t_s"] for f in ver.frames]
    clip = next(e for e in events if e.kind == "tool_result" and e.clips).clips[0]
    assert len(times) == frames and times == sorted(times) and len(set(times)) == frames
    assert all(clip["start_s"] <= t <= clip["end_s"] for t in times)
    assert all(Path(f["thumb"]).is_file() for f in ver.frames)
    assert f"vlm on {frames} frames" in ver.evidence
    # the event, its frames included, is saved with the session; the exports parse
    saved = session_json(lib.store, events[0].session_id)
    step = next(s for s in saved["steps"] if s["kind"] == "verification" and s["n"] == ver.n)
    assert step["frames"] == ver.frames
    obj = _parses(lib, events[0].session_id)
    assert any(s["kind"] == "verification" for s in obj["steps"])


def test_auto_falls_back_to_lite_in_one_line_saying_why(vlm_folder: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    import model.load
    from agent.policy import auto_profile

    monkeypatch.delenv(env_var(FULL_VLM), raising=False)
    if not torch.cuda.is_available():  # this machine: no GPU
        assert auto_profile(tmp_path) == ("lite", "no CUDA GPU here")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    profile, why = auto_profile(tmp_path)  # a GPU, but no weights
    assert profile == "lite" and "python -m model fetch --profile full" in why and "\n" not in why
    monkeypatch.setenv(env_var(FULL_VLM), str(vlm_folder))
    assert auto_profile(tmp_path) == ("full", None)
    # make_policy says it in one line and builds the lite (narrow) policy; the lite weights are not loaded here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded: list[str] = []
    monkeypatch.setattr(model.load, "load_chat_model", lambda profile, **kw: loaded.append(profile) or object())
    lines: list[str] = []
    policy = make_policy("auto", models_dir=tmp_path, notice=lines.append)
    assert lines == ["profile auto: using lite, because no CUDA GPU here"]
    assert loaded == ["lite"] and policy.name == "local-lite" and policy.narrow
