"""Search: RRF fusion and merging, the channel registry, and the image channel on a tiny random CLIP
(plumbing: ids, time ranges, identical vectors first, same results after a FAISS rebuild)."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from memory import image_search
from memory import search as search_mod
from memory import text_search
from memory.datadir import DataDir
from memory.index import file_name
from memory.indexer import IndexerConfig
from memory.library import Library, LibraryConfig, LibraryError
from memory.search import ChannelHit, SearchConfig, fuse
from memory.text_encoder import MODEL_ID
from tests.fixtures import synth
from tests.fixtures.tiny_clip import save_tiny_clip

VISUAL = tuple(f"memory.stages.{name}" for name in ("probe", "shots", "keyframes", "image_vectors"))


def test_rrf_prefers_moments_found_by_several_channels() -> None:
    ranked = {
        "image": [ChannelHit(10, 12, 0.9), ChannelHit(30, 32, 0.8), ChannelHit(50, 52, 0.7)],
        "speech": [ChannelHit(31, 33, 5.0, snippet="the red door"), ChannelHit(70, 72, 4.0, snippet="later")],
    }
    clips = fuse(ranked, video_id=1, k=4)
    # 30-33 is matched by both channels and merged into one clip that cites both.
    assert (clips[0].start_s, clips[0].end_s) == (30, 33)
    assert clips[0].sources == ("speech", "image")  # best-ranked channel first
    assert clips[0].snippet == "the red door"
    assert clips[0].extra["channels"]["image"]["rank"] == 2 and clips[0].extra["channels"]["speech"]["rank"] == 1
    assert clips[0].score == pytest.approx(1 / 62 + 1 / 61, abs=1e-6)
    assert [c.start_s for c in clips[1:]] == [10, 70, 50]  # rank 1 image, rank 2 speech, rank 3 image
    assert all(a.score >= b.score for a, b in zip(clips, clips[1:]))


def test_merging_never_exceeds_the_max_span() -> None:
    # Overlapping 5 s hits every 2.5 s: each overlaps its neighbour by half, so they chain.
    hits = [ChannelHit(i * 2.5, i * 2.5 + 5.0, 1.0 - i / 100) for i in range(20)]
    clips = fuse({"image": hits}, 1, k=20, config=SearchConfig(max_clip_s=12.0))
    assert all(c.end_s - c.start_s <= 12.0 for c in clips)
    assert len(clips) < 20  # some overlapping hits merged


def test_adjacent_moments_stay_separate_clips() -> None:
    # Neighbouring scenes touching at a boundary, or overlapping by a sliver, are different moments:
    # merging them would make a citation wider than the evidence.
    ranked = {"speech": [ChannelHit(0.0, 7.0, 1.0, "a"), ChannelHit(7.0, 14.0, 0.9, "b")],
              "ocr": [ChannelHit(6.5, 13.5, 0.8, "B"), ChannelHit(1.0, 6.0, 0.7, "A")]}
    clips = fuse(ranked, 1, k=5)
    spans = sorted((c.start_s, c.end_s, set(c.sources)) for c in clips)
    assert spans == [(0.0, 7.0, {"speech", "ocr"}), (6.5, 14.0, {"speech", "ocr"})]


def test_registry_time_range_and_unknown_channel(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake(lib, video_id, query, k, start_s, end_s):
        calls.append((query, k, start_s, end_s))
        return [ChannelHit(1.0, 2.0, 1.0, "a"), ChannelHit(20.0, 21.0, 0.5, "b")]

    monkeypatch.setitem(search_mod._REGISTRY, "fake", fake)
    vid = library.store.add_video("f" * 64, "t", "/x", 1).id
    library.store.update_video(vid, status="ready")
    clips = library.search(vid, "door", k=3, start_s=10.0, channels=["fake"])
    assert [(c.start_s, c.sources) for c in clips] == [(20.0, ("fake",))]
    assert calls == [("door", 20, 10.0, None)]
    with pytest.raises(LibraryError, match="unknown search channel"):
        library.search(vid, "door", channels=["nope"])
    with pytest.raises(LibraryError, match="empty"):
        library.search(vid, "  ", channels=["fake"])


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("search")
    tiny = save_tiny_clip(root / "tiny-clip")
    clip = root / "clip.mp4"
    synth.cuts_video(clip, [2.0, 4.0, 6.0, 8.0], 10.0, fps=25, size=(160, 120))
    cfg = LibraryConfig(indexer=IndexerConfig(stages=VISUAL))
    lib = Library(root / "data", image_encoder=str(tiny), config=cfg)
    out = lib.index_video(clip)
    yield lib, out, tiny, cfg
    lib.close()


def test_image_channel_returns_shots_and_ranks_identical_vectors_first(indexed) -> None:
    lib, out, _, _ = indexed
    assert out["visual"] is True and out["shots"] == 5
    enc = lib.image_encoder()
    rows = list(lib.store.db.query(
        "SELECT v.id, v.vec, f.t_s, s.start_s, s.end_s FROM vectors v JOIN frames f ON f.id = v.ref_id "
        "JOIN shots s ON s.id = f.shot_id WHERE v.kind = 'image' ORDER BY v.id"))
    assert len(rows) == 5
    for r in rows:
        q = np.frombuffer(r["vec"], dtype=np.float32)[None]
        scores, ids = lib.index.search("image", enc.model_id, q, k=1)
        assert ids[0, 0] == r["id"] and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    clips = lib.search(out["video_id"], "a red square", k=3, channels=["image"])
    assert 1 <= len(clips) <= 3
    shots = {(s["start_s"], s["end_s"]) for s in lib.shots(out["video_id"])}
    for c in clips:
        assert c.sources == ("image",) and c.thumb and Path(c.thumb).is_file()
        assert c.start_s <= c.keyframe_s <= c.end_s
        assert (c.start_s, c.end_s) in shots or c.end_s - c.start_s > 2.5  # a shot, or adjacent shots merged


def test_time_range_limits_image_hits(indexed) -> None:
    lib, out, _, _ = indexed
    clips = lib.search(out["video_id"], "anything", k=5, start_s=4.5, end_s=5.5, channels=["image"])
    assert clips and all(c.end_s >= 4.5 and c.start_s <= 5.5 for c in clips)


def test_search_is_the_same_after_faiss_is_rebuilt(indexed) -> None:
    lib, out, tiny, cfg = indexed
    queries = ["red", "green checkerboard", "blue sky", "dark night"]
    before = [[c.to_dict() for c in lib.search(out["video_id"], q, k=5)] for q in queries]
    path = lib.data.index_dir / file_name("image", lib.image_encoder().model_id)
    for damage in ("delete", "truncate"):
        if damage == "delete":
            path.unlink()
        else:
            path.write_bytes(path.read_bytes()[:64])
        with Library(lib.data, image_encoder=str(tiny), config=cfg) as fresh:
            after = [[c.to_dict() for c in fresh.search(out["video_id"], q, k=5)] for q in queries]
            assert fresh.index.rebuilds == 1
        assert after == before
        assert path.stat().st_size > 64


def test_without_weights_search_has_no_image_hits(tmp_path: Path) -> None:
    clip = tmp_path / "c.mp4"
    synth.cuts_video(clip, [1.0], 2.0, fps=25, size=(160, 120))
    with Library(tmp_path / "d", image_encoder=None, config=LibraryConfig(indexer=IndexerConfig(stages=VISUAL))) as lib:
        out = lib.index_video(clip)
        assert out["visual"] is False
        assert lib.image_encoder() is None
        assert lib.search(out["video_id"], "red", channels=["image"]) == []
        assert lib.store.db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 0


def _image_hits_one_query_per_hit(lib: Library, video_id: int, query: str, k: int, start_s: float | None,
                                  end_s: float | None) -> list[ChannelHit]:
    """The image channel as it was before its hits were read in one query: the reference it must match."""
    enc = lib.image_encoder()
    sql = ("SELECT v.id FROM vectors v JOIN frames f ON f.id = v.ref_id JOIN shots s ON s.id = f.shot_id "
           "WHERE v.kind = 'image' AND v.model_id = ? AND v.video_id = ?")
    args: list = [enc.model_id, video_id]
    if start_s is not None:
        sql, args = sql + " AND s.end_s >= ?", args + [start_s]
    if end_s is not None:
        sql, args = sql + " AND s.start_s <= ?", args + [end_s]
    allowed = np.array([r[0] for r in lib.store.db.execute(sql, args).fetchall()], dtype=np.int64)
    scores, ids = lib.index.search("image", enc.model_id, enc.encode_texts([query]), min(len(allowed), k * 3),
                                   allowed)
    hits, seen = [], set()
    for vid, score in zip(ids[0].tolist(), scores[0].tolist()):
        row = next(lib.store.db.query(
            "SELECT s.id AS shot_id, s.start_s, s.end_s, f.t_s, f.thumb FROM vectors v "
            "JOIN frames f ON f.id = v.ref_id JOIN shots s ON s.id = f.shot_id WHERE v.id = ?", [vid]), None)
        if vid < 0 or row is None or row["shot_id"] in seen:
            continue
        seen.add(row["shot_id"])
        hits.append(ChannelHit(row["start_s"], row["end_s"], float(score),
                               thumb=str(lib.data.root / row["thumb"]) if row["thumb"] else None,
                               keyframe_s=row["t_s"]))
        if len(hits) >= k:
            break
    return hits


@pytest.mark.parametrize("query, start_s, end_s, k", [
    ("a red square", None, None, 20), ("anything", 3.0, 7.0, 20), ("blue", None, None, 2)])
def test_image_channel_reads_its_hits_in_one_query(indexed, query: str, start_s, end_s, k: int) -> None:
    lib, out, _, _ = indexed
    vid = out["video_id"]
    expected = _image_hits_one_query_per_hit(lib, vid, query, k, start_s, end_s)
    statements: list[str] = []
    lib.store.db.conn.set_trace_callback(statements.append)
    try:
        hits = image_search.image_channel(lib, vid, query, k, start_s, end_s)
    finally:
        lib.store.db.conn.set_trace_callback(None)
    assert hits == expected  # the same hits, in the same order
    assert len(hits) >= 2  # several of them, and still ...
    assert sum("JOIN frames" in sql for sql in statements) == 1  # ... one query for all of them


def _fake_embed(texts: list[str], models_dir=None, config=None) -> np.ndarray:
    """Stands in for MiniLM: a fixed random unit vector per text, so equal texts score 1."""
    out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=384) for t in texts])
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def text_library(data_dir: DataDir):
    """A ready video with one speech segment and one OCR line saying the same thing, and their vectors."""
    lib = Library(data_dir, image_encoder=None)
    vid = lib.store.add_video("e" * 64, "t", "/x", 1).id
    said = "the red door opens slowly"
    with lib.store.atomic() as db:
        for kind, span in (("speech", (1.0, 3.0)), ("ocr", (1.5, 2.5)), ("speech", (9.0, 11.0))):
            text = said if span[0] < 5 else "a dog runs in the park"
            ref = db.execute(f"INSERT INTO {kind} (video_id, start_s, end_s, text) VALUES (?, ?, ?, ?)",
                             [vid, *span, text]).lastrowid
            lib.store.add_vectors(vid, kind, MODEL_ID, [ref], _fake_embed([text]))
    lib.store.update_video(vid, status="ready")
    yield lib, vid, said
    lib.close()


def test_one_search_embeds_the_query_once(text_library, monkeypatch: pytest.MonkeyPatch) -> None:
    lib, vid, said = text_library
    calls: list[list[str]] = []

    def counting_embed(texts, models_dir=None, config=None):
        calls.append(list(texts))
        return _fake_embed(texts)

    monkeypatch.setattr(text_search, "embed", counting_embed)
    clips = lib.search(vid, said, k=3)
    # Both vector channels used the one vector: each found its own row with it.
    assert {"speech", "ocr"} <= set(clips[0].sources) and (clips[0].start_s, clips[0].end_s) == (1.0, 3.0)
    assert calls == [[said]]
    # The vector lives as long as its search: the next search embeds its own query again.
    lib.search(vid, said, k=3)
    lib.search(vid, "a dog runs in the park", k=3, channels=["speech"])
    assert calls == [[said], [said], ["a dog runs in the park"]]
    # A channel called on its own (outside a search) embeds for itself.
    assert text_search.ocr_channel(lib, vid, said, 5, None, None)[0].score == pytest.approx(1.0, abs=1e-5)
    assert len(calls) == 4


def test_fts_channel_matches_with_fts_query(text_library, monkeypatch: pytest.MonkeyPatch) -> None:
    lib, vid, said = text_library
    built: list[str | None] = []
    original = text_search.fts_query

    def recording_fts_query(text: str) -> str | None:
        built.append(original(text))
        return built[-1]

    monkeypatch.setattr(text_search, "fts_query", recording_fts_query)
    hits = text_search.fts_channel(lib, vid, "Red DOOR?", 5, None, None)
    assert built == ['"red" OR "door"']
    assert sorted((h.start_s, h.end_s) for h in hits) == [(1.0, 3.0), (1.5, 2.5)]
    assert text_search.fts_channel(lib, vid, "the of and", 5, None, None) == [] and built[-1] is None
