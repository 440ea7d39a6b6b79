"""The screen's names as Whisper's vocabulary: which words are chosen, the stage order and dependency,
and one real transcription where a name is shown and said."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from memory.datadir import DataDir
from memory.indexer import Indexer, IndexerConfig
from memory.library import Library, LibraryConfig
from memory.speech_names import fix_names
from memory.speech_vocab import VocabConfig, name_spans, names_in_line, screen_vocabulary, vocabulary_text
from memory.stages import DEFAULT_STAGES, StageContext
from memory.stages import speech
from memory.stages.speech import SR, SpeechConfig, regions_near, transcribe
from memory.store import Store
from tests.fixtures import synth


def _rows(*texts: str, conf: float = 0.9) -> list[dict[str, object]]:
    return [{"start_s": float(i), "end_s": i + 1.0, "text": t, "conf": conf} for i, t in enumerate(texts)]


# -- choosing the words ---------------------------------------------------------------------------
def test_names_are_runs_of_capitalised_words_without_the_phrase_capital() -> None:
    assert names_in_line("Filmed in Port Merrin") == ["Port Merrin"]
    assert names_in_line("Narrated by Jonas Whitfield") == ["Jonas Whitfield"]
    assert names_in_line("Ornithologist, Harbour University") == ["Ornithologist", "Harbour University"]
    assert names_in_line("Made possible with support from") == []
    assert names_in_line("WILD NEIGHBOURS") == ["Wild Neighbours"]  # a title in capitals, written as a name
    assert names_in_line("Report by the BBC") == ["BBC"]               # an acronym stays as it is
    assert names_in_line("Dr. Maria O'Neil") == ["Maria O'Neil"]


def test_vocabulary_drops_low_confidence_garbage_and_duplicates_in_first_seen_order() -> None:
    rows = _rows("Elena Marsh", "Ornithologist, Harbour University", "Elena Marsh", "%# Wl ~~ 3@1 ii",
                 "Rrr Xzq Bbbb", "ELENA MARSH")
    rows.append({"text": "Daniel Osei", "conf": 0.3})  # read with poor confidence: maybe misspelt
    rows.append({"text": "Amara Okafor", "conf": None})  # confidence unknown: kept
    assert screen_vocabulary(rows) == ["Elena Marsh", "Ornithologist", "Harbour University", "Amara Okafor"]


def test_a_name_whose_words_are_all_known_adds_nothing() -> None:
    assert screen_vocabulary(_rows("Jonas Whitfield", "Whitfield", "Jonas Whitfield Trust")) == [
        "Jonas Whitfield", "Jonas Whitfield Trust"]


def test_vocabulary_is_bounded_in_words_and_stops_at_a_whole_name() -> None:
    rows = _rows(*[f"Person{'abcdefghij'[i % 10]}x Surname{'abcdefghij'[i // 10]}y" for i in range(60)])
    got = screen_vocabulary(rows, VocabConfig(max_words=9))
    assert len(got) == 4 and sum(len(n.split()) for n in got) == 8
    assert len(" ".join(screen_vocabulary(rows)).split()) <= VocabConfig().max_words


def test_no_screen_text_means_no_vocabulary() -> None:
    assert screen_vocabulary([]) == [] and vocabulary_text([]) == ""
    assert vocabulary_text(["Elena Marsh", "Port Merrin"]) == "Elena Marsh, Port Merrin."


def test_the_stage_reads_the_videos_ocr_rows_only_when_the_option_is_on(fresh_db: Store, data_dir: DataDir) -> None:
    vid = fresh_db.add_video("b" * 64, "t", "/x", 1).id
    other = fresh_db.add_video("c" * 64, "u", "/y", 1).id
    with fresh_db.atomic():
        fresh_db.replace_texts("ocr", vid, _rows("Narrated by Jonas Whitfield"))
        fresh_db.replace_texts("ocr", other, _rows("Amara Okafor"))
    ctx = StageContext(vid, "/x", str(data_dir.root), str(data_dir.models_dir), {}, {})
    assert speech.screen_names(ctx, SpeechConfig(vocabulary="hotwords")) == (["Jonas Whitfield"], [(0.0, 1.0)])
    assert speech.screen_names(ctx, SpeechConfig(vocabulary="off")) == ([], [])


def test_a_names_time_on_screen_is_every_readable_line_that_shows_one_of_its_words() -> None:
    rows = _rows("Wild Neighbours", "Elena Marsh", "Made possible with support from", "ELENA MARSH",
                 "Marsh Road", "Harbour University", "Marsh Road 12")  # a street sign: not a name card
    rows.append({"start_s": 9.0, "end_s": 10.0, "text": "Elena Marsh", "conf": 0.3})  # a poor read: not trusted
    assert name_spans(rows, ["Elena Marsh"]) == [(1.0, 2.0), (3.0, 4.0), (4.0, 5.0)]
    assert name_spans(rows, []) == []


# -- which speech name_fix decodes again ------------------------------------------------------------
def _regions(*spans_s: tuple[float, float]) -> list[dict[str, int]]:
    return [{"start": int(a * SR), "end": int(b * SR)} for a, b in spans_s]


def test_the_regions_decoded_again_are_those_within_the_margin_of_a_name_on_screen() -> None:
    vad = _regions((0, 4), (5, 12), (20, 26), (40, 55), (70, 80), (95, 100))
    # Shown at 30-32 s and 33-36 s (one window 20-46 s with a 10 s margin) and at 90-91 s (80-101 s).
    got = regions_near(vad, [(90.0, 91.0), (30.0, 32.0), (33.0, 36.0)], 10.0)
    assert got == _regions((20, 26), (40, 55), (95, 100))  # 70-80 only touches the window: not inside
    assert regions_near(vad, [(30.0, 32.0)], 0.0) == []    # nothing said while it shows, no margin
    assert regions_near(vad, [], 10.0) == []
    assert regions_near(vad, [(0.0, 200.0)], 10.0) == vad


# -- names put right in a plain decode -------------------------------------------------------------
def _words(text: str, t0: float = 0.0) -> list[SimpleNamespace]:
    return [SimpleNamespace(word=" " + w, start=t0 + i, end=t0 + i + 0.5) for i, w in enumerate(text.split())]


def test_only_short_spans_heard_as_names_are_taken_from_the_prompted_decode() -> None:
    plain = [_words("Hello, my name is Illy Amash and I study birds."), _words("It is run by Harberline.", 20)]
    hinted = _words("Hello, my name is Elena Marsh, and I Study Birds. It is run by Harbourline.")
    fixed = fix_names(plain, hinted, ["Elena Marsh", "Harbour University"])
    assert [" ".join(w.word.strip() for w in seg) for seg in fixed] == [
        "Hello, my name is Elena Marsh, and I study birds.",  # the casing elsewhere stays the plain decode's
        "It is run by Harberline."]                              # not a vocabulary word: left as heard
    assert fixed[0][4].start == 4.0  # the name's words carry the prompted decode's times


def test_words_the_prompted_decode_lost_stay_as_the_plain_decode_heard_them() -> None:
    plain = [_words("I'm Daniel O'Sight and I look after trees."), _words("We planted silver birches.", 30)]
    hinted = _words("I'm Daniel Osei, and I look after trees.")  # a window taken for silence
    fixed = fix_names(plain, hinted, ["Daniel Osei"])
    assert [" ".join(w.word.strip() for w in seg) for seg in fixed] == [
        "I'm Daniel Osei, and I look after trees.", "We planted silver birches."]
    long_span = _words("one two three four five")
    assert fix_names([long_span], _words("Elena Marsh Elena Marsh Port Merrin"), ["Elena Marsh", "Port Merrin"]) \
        == [long_span]  # a long rewrite is not a name heard differently


class _FakeWhisper:
    """Records how faster-whisper would be called; decodes nothing."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []
        self.audio_s: list[float] = []  # seconds of audio handed to each decode
        self.hf_tokenizer = SimpleNamespace(encode=lambda text: SimpleNamespace(ids=text.split()))

    def transcribe(self, audio: object, **kwargs: object) -> tuple[list[object], SimpleNamespace]:
        self.calls.append(kwargs)
        self.audio_s.append(len(audio) / SR)  # type: ignore[arg-type]
        return [], SimpleNamespace(language="en", language_probability=1.0)


@pytest.mark.parametrize("names,mode,expect", [
    ([], "name_fix", [{}]),                                               # no screen text: as before
    (["Elena Marsh"], "name_fix", [{}, {"hotwords": "Elena Marsh."}]),     # plain, then the names' decode
    (["Elena Marsh"], "off", [{}]),
    (["Elena Marsh"], "hotwords", [{"hotwords": "Elena Marsh."}]),
    (["Elena Marsh"], "prompt", [{"initial_prompt": "Elena Marsh."}]),
])
def test_each_mode_calls_whisper_as_documented(narrated, monkeypatch: pytest.MonkeyPatch, names: list[str],
                                               mode: str, expect: list[dict[str, str]]) -> None:
    fake = _FakeWhisper()
    monkeypatch.setattr(speech, "load_model", lambda config, models_dir=None: fake)
    transcribe(str(narrated.path), SpeechConfig(vocabulary=mode), vocabulary=names)
    hints = [{k: v for k, v in c.items() if k in ("hotwords", "initial_prompt")} for c in fake.calls]
    assert hints == expect


def test_a_name_shown_briefly_has_only_the_speech_near_it_decoded_again(narrated, monkeypatch: pytest.MonkeyPatch
                                                                        ) -> None:
    from faster_whisper.audio import decode_audio

    fake = _FakeWhisper()
    monkeypatch.setattr(speech, "load_model", lambda config, models_dir=None: fake)
    config = SpeechConfig(vocabulary="name_fix", name_margin_s=2.0)
    shown_at = narrated.speech[3]  # a lower third while the fourth sentence is said
    _, info = transcribe(str(narrated.path), config, vocabulary=["Elena Marsh"],
                         shown=[(shown_at.start_s, shown_at.start_s + 1.0)])
    vad = speech.speech_regions(decode_audio(str(narrated.path), sampling_rate=SR), config)
    near = regions_near(vad, [(shown_at.start_s - 2.0, shown_at.start_s + 3.0)], 0.0)  # the fixture's audio
    expect_s = sum(r["end"] - r["start"] for r in near) / SR                          # starts with its video
    assert [c.get("hotwords") for c in fake.calls] == [None, "Elena Marsh."]
    assert fake.audio_s[1] == pytest.approx(expect_s, abs=0.01) and info["name_fix_s"] == pytest.approx(expect_s, abs=0.01)
    assert 0 < fake.audio_s[1] < fake.audio_s[0] / 4  # the plain decode had all the speech
    fake.calls.clear()
    transcribe(str(narrated.path), config, vocabulary=["Elena Marsh"], shown=[])  # never on screen: one decode
    assert len(fake.calls) == 1


def test_the_vocabulary_is_cut_to_whole_names_within_the_token_bound() -> None:
    fake = _FakeWhisper()  # one token per word here
    assert speech._fit(fake, ["Elena Marsh", "Port Merrin", "Jonas Whitfield"], 5) == ["Elena Marsh", "Port Merrin"]


# -- the stage order and dependency ----------------------------------------------------------------
def test_ocr_runs_before_speech_and_text_vectors_comes_last(fresh_db: Store, data_dir: DataDir) -> None:
    names = [s.rsplit(".", 1)[1] for s in DEFAULT_STAGES]
    assert names.index("ocr") < names.index("speech") and names[-1] == "text_vectors"
    assert Indexer(data_dir, fresh_db)._dependents("ocr") == ["speech", "text_vectors"]


def test_an_ocr_rerun_redoes_speech(tmp_path: Path, data_dir: DataDir) -> None:
    clip = tmp_path / "clip.mp4"
    synth.cuts_video(clip, [1.5], 3.0, fps=10, size=(160, 120))  # no audio: speech is quick
    stages = tuple(f"memory.stages.{n}" for n in ("probe", "shots", "keyframes", "ocr", "speech"))
    config = LibraryConfig(indexer=IndexerConfig(stages=stages, in_process=True))
    ran: list[str] = []
    with Library(data_dir, image_encoder=None, config=config) as lib:
        vid = lib.index_video(clip)["video_id"]
        assert {"ocr", "speech"} <= set(lib.store.stages(vid))
        lib.store.clear_stages(vid, ["speech"])  # a speech re-run leaves the OCR rows alone
        lib.index_video(clip, progress=lambda s, f, m: ran.append(s) if m == "done" else None)
        assert ran == ["speech"]
        ran.clear()
        lib.store.clear_stages(vid, ["ocr"])
        lib.index_video(clip, progress=lambda s, f, m: ran.append(s) if m == "done" else None)
        assert ran == ["ocr", "speech"]


# -- a real transcription ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def elena(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 s of the dev film city_birds around "Hello, my name is Elena Marsh" (Whisper base hears a
    different name there without vocabulary)."""
    from tests.fixtures.devset import build_devset

    film = build_devset(artifacts / "devset", ("city_birds",))["city_birds"]
    said = next(s for s in film.speech if "Elena Marsh" in s.text)
    cut = tmp_path_factory.mktemp("elena") / "elena.mp4"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-ss", f"{said.start_s - 6.0:.2f}", "-t", "16",
                    "-i", str(film.path), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(cut)],
                   check=True)
    return cut


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_name_shown_on_screen_is_spelt_as_shown(elena: Path) -> None:
    models = os.environ["CITECLIP_MODELS"]
    rows = _rows("Filmed in Port Merrin", "Elena Marsh", "Ornithologist, Harbour University")  # in 0-3 s
    names = screen_vocabulary(rows)
    segs, info = transcribe(str(elena), SpeechConfig(vocabulary="name_fix"), models, vocabulary=names,
                            shown=name_spans(rows, names))
    text = " ".join(s.text for s in segs)
    assert "Elena Marsh" in text, text
    assert info["vocabulary"].startswith("Port Merrin, Elena Marsh")
