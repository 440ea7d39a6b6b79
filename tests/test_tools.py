"""retrieve_clip and verify_frame: schemas, validation, clamping, refs, and every verification method."""
from __future__ import annotations

from pathlib import Path

import jsonschema
import numpy as np
import pytest

from agent.tools import TOOL_SCHEMAS, ToolArgumentError, ToolBox, ToolConfig, clip_probability, validate_arguments
from tests.fixtures.agent_fake import Row, fake_library

SPEECH = [Row(10, 14, "my umbrella is bright yellow"), Row(40, 44, "the dog barked at the mailman")]
SCREEN = [Row(60, 70, "GATE CODE 4821")]


@pytest.fixture
def lib(tmp_path: Path):
    lib = fake_library(tmp_path, duration_s=120.0, speech=SPEECH, screen=SCREEN)
    yield lib
    lib.close()


def box(lib, **kw) -> ToolBox:
    return ToolBox(lib, lib.video_id, 120.0, session_id=3, config=ToolConfig(**kw.pop("cfg", {})), **kw)


def test_schemas_are_openai_style_and_valid_json_schema() -> None:
    assert [t["function"]["name"] for t in TOOL_SCHEMAS] == ["retrieve_clip", "verify_frame"]
    for t in TOOL_SCHEMAS:
        assert t["type"] == "function" and t["function"]["description"]
        jsonschema.Draft202012Validator.check_schema(t["function"]["parameters"])


@pytest.mark.parametrize("tool,args,message", [
    ("retrieve_clip", {}, "'query' is a required property"),
    ("retrieve_clip", {"query": "x", "k": 0}, "k"),
    ("retrieve_clip", {"query": "x", "k": "five"}, "k"),
    ("retrieve_clip", {"query": "x", "path": "/etc/passwd"}, "Additional properties"),
    ("retrieve_clip", {"query": "x", "modality": "smell"}, "modality"),
    ("verify_frame", {"claim": "x", "clip": "../../etc"}, "clip"),
    ("verify_frame", '{"claim": ', "not JSON"),
    ("launch_rocket", {}, "unknown tool"),
])
def test_bad_arguments_are_the_models_error(tool: str, args, message: str) -> None:
    with pytest.raises(ToolArgumentError, match=message):
        validate_arguments(tool, args)


def test_times_are_clamped_to_the_video(lib) -> None:
    b = box(lib)
    args = b.prepare("retrieve_clip", {"query": "  umbrella  ", "start_s": -30, "end_s": 1e9, "modality": "any"})
    assert args == {"query": "umbrella", "start_s": 0.0, "end_s": 120.0, "k": 5}
    assert b.prepare("verify_frame", {"claim": "x", "t_s": 500})["t_s"] == 120.0
    with pytest.raises(ToolArgumentError, match="end_s must be after start_s"):
        b.prepare("retrieve_clip", {"query": "x", "start_s": 200, "end_s": 300})  # both clamp to 120
    with pytest.raises(ToolArgumentError, match="clip ref or t_s"):
        b.prepare("verify_frame", {"claim": "x"})
    with pytest.raises(ToolArgumentError, match="no retrieved clip c9"):
        b.prepare("verify_frame", {"claim": "x", "clip": "c9"})


def test_retrieval_gives_stable_refs_and_passes_the_range(lib) -> None:
    b = box(lib)
    first = b.run("retrieve_clip", b.prepare("retrieve_clip", {"query": "umbrella dog"}), step=2)
    assert [c["ref"] for c in first] == ["c1", "c2"]
    again = b.run("retrieve_clip", b.prepare("retrieve_clip", {"query": "dog", "start_s": 30}), step=5)
    assert [c["ref"] for c in again] == ["c2"]  # the same span keeps its ref
    assert lib.searches[-1]["start_s"] == 30.0
    assert set(b.clips) == {"c1", "c2"} and b.clips["c1"]["step"] == 2


def test_an_unavailable_channel_becomes_the_models_error(lib) -> None:
    b = box(lib)
    with pytest.raises(ToolArgumentError, match="image"):
        b.run("retrieve_clip", b.prepare("retrieve_clip", {"query": "x", "modality": "image"}), step=1)


def test_transcript_supports_a_claim_and_the_frame_is_saved_under_the_data_dir(lib) -> None:
    b = box(lib)
    b.run("retrieve_clip", b.prepare("retrieve_clip", {"query": "umbrella"}), step=1)
    v = b.run("verify_frame", b.prepare("verify_frame", {"clip": "c1", "claim": "the umbrella is yellow"}), step=4)
    assert v.verdict == "supported" and "transcript" in v.methods and v.scores["transcript"] == 1.0
    assert v.ref == "c1" and 10.0 <= v.t_s <= 14.0
    thumb = Path(v.thumb)
    assert thumb.is_file() and thumb.resolve().is_relative_to(lib.data.root.resolve())
    assert thumb.name == "s3_n4_0.jpg"


def test_model_text_never_reaches_the_file_system(lib) -> None:
    b = box(lib)
    v = b.run("verify_frame", b.prepare("verify_frame", {"t_s": 12, "claim": "../../../../tmp/pwned umbrella"}), step=9)
    assert Path(v.thumb).name == "s3_n9_0.jpg"
    assert not Path("/tmp/pwned").exists()


def test_screen_text_supports_and_a_missing_quote_refutes(lib) -> None:
    b = box(lib, cfg={})
    ok = b.run("verify_frame", b.prepare("verify_frame", {"t_s": 65, "claim": "the gate code is 4821"}), step=1)
    assert ok.verdict == "supported" and "ocr" in ok.methods
    bad = b.run("verify_frame", b.prepare("verify_frame", {"t_s": 65, "claim": "the sign says \"EXIT 7\""}), step=2)
    assert bad.verdict == "refuted" and "not on screen" in bad.evidence


def test_an_unrelated_claim_stays_uncertain(lib) -> None:
    b = box(lib)
    v = b.run("verify_frame", b.prepare("verify_frame", {"t_s": 42, "claim": "a giraffe eats pizza"}), step=1)
    assert v.verdict == "uncertain" and "transcript" in v.methods and set(v.methods) <= {"transcript", "ocr"}
    assert v.scores["transcript"] == 0.0


def test_a_vlm_verdict_is_used_where_the_policy_sees_images(lib) -> None:
    seen = []

    def judge(images, claim):
        seen.append((len(images), images[0].size, claim))
        return "no", "the frame shows a blue screen"

    b = box(lib, judge=judge)
    v = b.run("verify_frame", b.prepare("verify_frame", {"t_s": 100, "claim": "a red car"}), step=1)
    assert v.verdict == "refuted" and v.methods[0] == "vlm" and "blue screen" in v.evidence
    assert seen == [(4, (480, 270), "a red car")]  # four full-resolution frames around t


class ColourEncoder:
    """Images map to their mean colour, texts to the colour word they contain: enough to test the method."""

    model_id, dim = "test/colour", 3
    words = {"red": [1, 0, 0], "green": [0, 1, 0], "blue": [0, 0, 1]}

    def encode_images(self, images):
        return np.stack([np.asarray(im.convert("RGB"), dtype=np.float32).reshape(-1, 3).mean(0) / 255 for im in images])

    def encode_texts(self, texts):
        return np.array([next((v for w, v in self.words.items() if w in t), [0.3, 0.3, 0.3]) for t in texts],
                        dtype=np.float32)


def test_clip_similarity_against_contrast_prompts(lib) -> None:
    lib.encoder = ColourEncoder()  # the fake frames are dark blue (40, 60, 120)
    b = box(lib, cfg={"contrasts": ("a red screen", "a green screen")})
    v = b.run("verify_frame", b.prepare("verify_frame", {"t_s": 100, "claim": "a blue screen"}), step=1)
    assert "clip" in v.methods and v.scores["clip"] > 0.9 and v.verdict == "supported"
    p_red = clip_probability(ColourEncoder(), [lib.frame_at(1, 100)], "a red screen", ("a blue screen",))
    assert p_red < 0.1


def test_frames_are_read_with_ocr(lib) -> None:
    lib.screen = []  # nothing indexed: only reading the frame can find the text
    lib_frame_text = Row(60, 70, "GATE CODE 4821")
    b = box(lib)
    lib.screen = [lib_frame_text]
    img = lib.frame_at(1, 65)
    lib.screen = []
    lib.frame_at = lambda vid, t, max_side=None: img
    v = b.run("verify_frame", b.prepare("verify_frame", {"t_s": 65, "claim": "gate code 4821"}), step=1)
    assert "ocr" in v.methods and v.verdict == "supported"
