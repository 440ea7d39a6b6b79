"""Hybrid text retrieval on the narrated fixture, indexed end to end with the real weights (no image encoder):
paraphrases find their scene first, exact names are found through FTS5, time ranges exclude the rest."""
from __future__ import annotations

import pytest

from memory import text_search
from memory.index import file_name
from memory.library import Library
from memory.text_search import fts_query
from memory.text_encoder import MODEL_ID
from tests.fixtures.narrated import Narrated

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, narrated: Narrated):
    root = tmp_path_factory.mktemp("text_search")
    truth = narrated  # the session's video: indexing only reads it
    lib = Library(root / "data", image_encoder=None)
    out = lib.index_video(truth.path)
    yield lib, out, truth
    lib.close()


def _scenes(lib: Library, vid: int, truth: Narrated, query: str, **kw) -> list[int | None]:
    return [truth.scene_of(c.start_s, c.end_s) for c in lib.search(vid, query, **kw)]


def test_index_reports_speech_and_screen_text(indexed) -> None:
    lib, out, truth = indexed
    assert out["speech_segments"] == len(truth.speech) and out["ocr_lines"] == len(truth.screen)
    stages = lib.store.stages(out["video_id"])
    assert stages["speech"]["info"]["language"] == "en"
    assert stages["text_vectors"]["info"] == {"model_id": MODEL_ID, "speech_vectors": len(truth.speech),
                                              "ocr_vectors": len(truth.screen)}
    # Each text kind has its own FAISS file, listed in the manifest.
    files = lib.index.manifest()["files"]
    for kind, n in (("speech", len(truth.speech)), ("ocr", len(truth.screen))):
        assert files[file_name(kind, MODEL_ID)]["count"] == n


@pytest.mark.parametrize("kind, channel", [("speech", "speech"), ("screen", "ocr")])
def test_a_paraphrased_question_finds_its_scene_first(indexed, kind: str, channel: str) -> None:
    lib, out, truth = indexed
    for q in (q for q in truth.queries if q.kind == kind):
        assert _scenes(lib, out["video_id"], truth, q.text, k=3, channels=[channel])[:1] == [q.scene], q
        # Fused over every channel, the scene is still first.
        assert _scenes(lib, out["video_id"], truth, q.text, k=5)[0] == q.scene, q


def test_an_exact_name_is_found_through_fts(indexed) -> None:
    lib, out, truth = indexed
    for q in (q for q in truth.queries if q.kind == "name"):
        clips = lib.search(out["video_id"], q.text, k=3, channels=["fts"])
        assert clips and truth.scene_of(clips[0].start_s, clips[0].end_s) == q.scene, q
        assert q.text.lower() in clips[0].snippet.lower() and clips[0].sources == ("fts",)


def test_fused_clips_cite_their_channels_and_a_thumbnail(indexed) -> None:
    lib, out, truth = indexed
    clip = lib.search(out["video_id"], "Lisbon flight delayed by the storm", k=3)[0]
    assert truth.scene_of(clip.start_s, clip.end_s) == 0
    assert {"speech", "fts"} <= set(clip.sources) and "Lisbon" in clip.snippet
    assert clip.thumb and clip.thumb.endswith(".jpg")  # the shot's keyframe, borrowed by a text-only clip


def test_a_time_range_excludes_the_rest(indexed) -> None:
    lib, out, truth = indexed
    vid = out["video_id"]
    lisbon = truth.scenes[0]
    assert _scenes(lib, vid, truth, "Lisbon", k=5)[0] == 0
    later = lib.search(vid, "Lisbon", k=5, start_s=lisbon.end_s + 1.0)
    assert all(c.end_s >= lisbon.end_s + 1.0 for c in later)
    assert 0 not in [truth.scene_of(c.start_s, c.end_s) for c in later]
    # A question about two scenes: the range keeps the one inside it and drops the other.
    query = "grandmother knitting a scarf, and the slide about travel costs"
    assert {1, 4} <= set(_scenes(lib, vid, truth, query, k=5))
    window = truth.scenes[4]
    inside = lib.search(vid, query, k=5, start_s=window.start_s, end_s=window.end_s)
    assert inside and all(c.end_s >= window.start_s and c.start_s <= window.end_s for c in inside)
    assert {truth.scene_of(c.start_s, c.end_s) for c in inside} == {4}


@pytest.mark.parametrize("query", ['"unbalanced', "NEAR(a b)", "speech_fts:hello", "a*", "^start", "- OR AND", "😀",
                                  "Route 66 Diner?"])
def test_fts_accepts_any_user_text(indexed, query: str) -> None:
    lib, out, _ = indexed
    lib.search(out["video_id"], query, k=3, channels=["fts"])  # never an FTS5 syntax error
    match = fts_query(query)
    assert match is None or all(t.startswith('"') and t.endswith('"') for t in match.split(" OR "))


def test_text_indexes_are_rebuilt_from_sqlite(indexed) -> None:
    lib, out, truth = indexed
    q = next(q for q in truth.queries if q.kind == "speech")
    before = [(c.start_s, c.end_s) for c in lib.search(out["video_id"], q.text, k=3, channels=["speech"])]
    (lib.data.index_dir / file_name("speech", MODEL_ID)).unlink()
    rebuilds = lib.index.rebuilds
    after = [(c.start_s, c.end_s) for c in lib.search(out["video_id"], q.text, k=3, channels=["speech"])]
    assert after == before and lib.index.rebuilds == rebuilds + 1


def test_unrelated_text_stays_out_of_the_vector_channels(indexed) -> None:
    lib, out, _ = indexed
    hits = text_search.speech_channel(lib, out["video_id"], "quantum chromodynamics lattice gauge theory", 10,
                                      None, None)
    assert all(h.score >= text_search.CONFIG.min_score for h in hits)
    assert len(hits) < 3


def test_a_short_time_range_returns_its_lines_whatever_the_words(indexed) -> None:
    """"What is the title card?" searched over the first seconds: the range, not the words, says what is wanted."""
    lib, out, truth = indexed
    vid, scene = out["video_id"], truth.scenes[1]
    a, b = scene.start_s, min(scene.end_s, scene.start_s + 25.0)
    query = "quixotic xylophone zeppelin"  # like nothing said or shown
    inside = lib.search(vid, query, k=5, start_s=a, end_s=b, channels=["speech", "ocr"])
    assert inside and all(c.start_s <= b and c.end_s >= a for c in inside)
    assert lib.search(vid, query, k=5, channels=["speech", "ocr"]) == []  # without the range: nothing like it
