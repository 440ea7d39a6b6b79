"""The speech stage: faster-whisper (CTranslate2, int8 on CPU) turns a video's audio into timed segments.

Voice-activity filtering (faster-whisper's Silero VAD) cuts out the silence, which is most of many
personal videos and where Whisper invents text; the speech is decoded with word timestamps, and
the words are mapped back onto the original clock, cut into segments at pauses and snapped to the
VAD regions (Whisper's own segment times drift by seconds across the cut-out silences). Times are
on the video's clock (the audio stream may start later than the video stream). The detected
language is stored on every segment. A video without an audio stream yields no segments.

The names the video shows on screen (the OCR stage's rows, `memory.speech_vocab`) can be handed to
Whisper as vocabulary, so that a name said and shown is spelt as shown: as `hotwords` (faster-whisper
puts them before every 30 s window) or as `initial_prompt` (the first window only, since the previous
text is not carried over here), or, with "name_fix", only to put right the names of a plain decode
(`memory.speech_names`: a prompt also changes how the rest is decoded, not always for the better).
name_fix decodes a second time, with the names as hotwords, only the speech near where a name is on
screen (a lower third or a credit shows while that person speaks): the VAD regions within a margin of
the OCR lines that show a name, so that a name shown briefly costs a brief second decode.
That is why this stage runs after the OCR stage and depends on it.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import av
import numpy as np

from assets import find_model
from memory.speech_names import fix_names
from memory.speech_vocab import VocabConfig, name_spans, screen_vocabulary, vocabulary_text
from memory.stages import StageContext
from memory.store import Store

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment as WhisperSegment, TranscriptionInfo

NAME = "speech"
DEPENDS = ("ocr",)  # the screen's names are the vocabulary: a new reading of the screen redoes speech
VOCABULARY_MODES = ("off", "hotwords", "prompt", "name_fix")
_HINT_ARG = {"hotwords": "hotwords", "prompt": "initial_prompt"}  # faster-whisper's argument for each mode
SR = 16000  # Whisper's sample rate


@dataclass(frozen=True)
class SpeechConfig:
    """How speech is transcribed.

    Chosen by measurement on the 10-minute narrated fixture (2-core CPU shared with other jobs):
    base/greedy WER 0.064 in 47 s, base/beam 5 WER 0.060 in 49 s, tiny.en/greedy WER 0.143 in 26 s.
    base is multilingual (the language is detected) and halves tiny.en's errors; greedy keeps the
    margin that noisier real audio needs within the 5x-real-time budget of speech + OCR + vectors.
    """

    model: str = "faster-whisper-base"   # asset name: "faster-whisper-base" (multilingual) or "faster-whisper-tiny.en"
    beam_size: int = 1                   # greedy decoding (beam 5 bought 0.004 WER on the fixture)
    compute_type: str = "int8"           # CTranslate2 weights quantised to int8: fastest on CPU
    cpu_threads: int = 0                 # 0: one per core (os.cpu_count())
    vad: bool = True                     # drop non-speech before decoding
    min_silence_ms: int = 500            # VAD: a pause this long splits speech into separate regions
    language: str | None = None          # force a language code; None detects it
    condition_on_previous_text: bool = False  # off: a hallucinated segment cannot seed the next one
    speech_pad_ms: int = 200             # VAD: padding kept around each speech region
    max_region_s: float = 30.0           # VAD: longer regions are split (Whisper's window)
    split_gap_s: float = 1.0             # a pause this long ends a segment, whatever Whisper decoded
    vocabulary: str = "name_fix"         # the screen's names to Whisper: "off", "hotwords" (every window),
                                         # "prompt" (initial_prompt: the first window only) or "name_fix"
                                         # (a plain decode whose words a hotwords decode of the speech
                                         # near a name card heard as names are replaced:
                                         # `memory.speech_names`; the only one that never cost WER in
                                         # bench/speech_wer.py, and it decodes again only near names)
    vocab_max_tokens: int = 120          # the vocabulary is cut to this many tokens (Whisper's limit: 224)
    name_margin_s: float = 10.0          # name_fix: speech this close to a name's time on screen is decoded
                                         # again with the names (a name is said a little before or after
                                         # its lower third shows)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SpeechConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Segment:
    """One transcribed segment on the video's clock."""

    start_s: float
    end_s: float
    text: str
    lang: str | None


def _audio_offset(path: str) -> float | None:
    """Seconds from the video stream's start to the audio stream's start; None when there is no audio."""
    with av.open(path) as c:
        if not c.streams.audio:
            return None
        a = c.streams.audio[0]
        a_start = float(a.start_time * a.time_base) if a.start_time is not None else 0.0
        vs = [s for s in c.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not vs or vs[0].start_time is None:
            return 0.0
        return a_start - float(vs[0].start_time * vs[0].time_base)


def load_model(config: SpeechConfig, models_dir: str | os.PathLike | None = None) -> WhisperModel:
    """A faster_whisper.WhisperModel from the local copy of the weights (never a hub download)."""
    from faster_whisper import WhisperModel

    folder = find_model(config.model, models_dir)
    threads = config.cpu_threads or (os.cpu_count() or 1)
    return WhisperModel(str(folder), device="cpu", compute_type=config.compute_type, cpu_threads=threads,
                        local_files_only=True)


def speech_regions(audio: np.ndarray, config: SpeechConfig) -> list[dict[str, int]]:
    """Silero VAD regions of `audio` (16 kHz samples) as [{"start", "end"}] sample indices."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if not config.vad:
        return [{"start": 0, "end": int(audio.shape[0])}] if audio.size else []
    opts = VadOptions(min_silence_duration_ms=config.min_silence_ms, speech_pad_ms=config.speech_pad_ms,
                      max_speech_duration_s=config.max_region_s)
    return get_speech_timestamps(audio, opts)


def _utterances(regions: list[dict[str, int]], gap_s: float) -> list[tuple[float, float]]:
    """VAD regions joined where the pause between them is shorter than `gap_s` (seconds)."""
    out: list[list[float]] = []
    for r in regions:
        a, b = r["start"] / SR, r["end"] / SR
        if out and a - out[-1][1] < gap_s:
            out[-1][1] = b
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _split(words: list[Any], utterances: list[tuple[float, float]]) -> list[tuple[float, float, str]]:
    """Cut a segment's words where they change utterance, and clamp each piece to its utterance.

    Whisper decodes the speech with the silences cut out, so one segment can run across a long
    pause, and a segment's first word can be timed at the junction; snapping to the VAD regions on
    the original clock fixes both.
    """
    def which(w: Any) -> int:
        mid = (w.start + w.end) / 2
        best, best_d = 0, float("inf")
        for i, (a, b) in enumerate(utterances):
            d = 0.0 if a <= mid <= b else min(abs(mid - a), abs(mid - b))
            if d < best_d:
                best, best_d = i, d
        return best

    groups: list[tuple[int, list[Any]]] = []  # (utterance index, its words), in order
    for w in words:
        i = which(w)
        if groups and groups[-1][0] == i:
            groups[-1][1].append(w)
        else:
            groups.append((i, [w]))
    # A word or two after the last full stop before a pause is the next utterance's first words,
    # timed across the junction of two regions: give them to the next group.
    merged: list[tuple[int, list[Any]]] = []
    carry: list[Any] = []
    for k, (i, ws) in enumerate(groups):
        ws = carry + ws
        carry = []
        if k + 1 < len(groups):
            ends = [j for j, w in enumerate(ws) if w.word.strip().endswith((".", "?", "!"))]
            cut = ends[-1] + 1 if ends else 0
            if 0 < len(ws) - cut <= 2:
                carry, ws = ws[cut:], ws[:cut]
        if ws:
            merged.append((i, ws))
    return [p for p in (_piece(ws, utterances[i]) for i, ws in merged) if p[2]]


def _piece(words: list[Any], utt: tuple[float, float]) -> tuple[float, float, str]:
    start = float(min(max(words[0].start, utt[0]), utt[1]))
    end = float(max(min(words[-1].end, utt[1]), start))
    return start, end, "".join(w.word for w in words).strip()


def regions_near(regions: list[dict[str, int]], spans_s: Sequence[tuple[float, float]], margin_s: float
                 ) -> list[dict[str, int]]:
    """The VAD `regions` (sample indices) that overlap any of `spans_s` (seconds on the audio's clock)
    widened by `margin_s` either side, in order: the speech said while, or just before or after, a
    name is on screen."""
    windows: list[list[float]] = []
    for a, b in sorted((a - margin_s, b + margin_s) for a, b in spans_s):
        if windows and a <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], b)
        else:
            windows.append([a, b])
    return [r for r in regions if any(r["start"] / SR < b and r["end"] / SR > a for a, b in windows)]


def _inside(seg: WhisperSegment, regions: list[dict[str, int]]) -> bool:
    """Whether a decoded segment (on the audio's clock) overlaps one of `regions`."""
    return any(seg.start < r["end"] / SR and seg.end > r["start"] / SR for r in regions)


def _fit(model: WhisperModel, names: list[str], max_tokens: int) -> list[str]:
    """The longest leading run of `names` whose prompt text is at most `max_tokens` of Whisper's tokens."""
    names = list(names)
    while names and len(model.hf_tokenizer.encode(" " + vocabulary_text(names)).ids) > max_tokens:
        names.pop()
    return names


def _decode(model: WhisperModel, speech: np.ndarray, regions: list[dict[str, int]], config: SpeechConfig,
            hints: dict[str, str], progress: Callable[[float], None]
            ) -> tuple[list[WhisperSegment], TranscriptionInfo]:
    """Whisper's segments of the cut-together speech, on the original audio's clock, and its info."""
    from faster_whisper.transcribe import restore_speech_timestamps

    multilingual = not config.model.endswith(".en")
    segments, info = model.transcribe(
        speech, language=config.language if multilingual else "en", beam_size=config.beam_size,
        vad_filter=False, condition_on_previous_text=config.condition_on_previous_text,
        without_timestamps=False, word_timestamps=True, **hints)
    out = []
    for seg in restore_speech_timestamps(segments, regions, SR):  # decoding happens as this is consumed
        out.append(seg)
        progress(seg.end)
    return out, info


def transcribe(path: str, config: SpeechConfig = SpeechConfig(), models_dir: str | os.PathLike | None = None,
               duration_s: float | None = None, progress: Callable[[float, str], None] | None = None,
               vocabulary: list[str] | None = None, shown: Sequence[tuple[float, float]] | None = None
               ) -> tuple[list[Segment], dict[str, Any]]:
    """Transcribe a video's audio; returns (segments on the video's clock, info: language and its probability).
    `vocabulary`: names to spell as given (`memory.speech_vocab`), used as `config.vocabulary` says.
    `shown`: when those names are on screen, (start_s, end_s) on the video's clock: name_fix decodes
    only the speech near them again (None: all of it)."""
    from faster_whisper.audio import decode_audio
    from faster_whisper.vad import collect_chunks

    if config.vocabulary not in VOCABULARY_MODES:
        raise ValueError(f"speech vocabulary must be one of {VOCABULARY_MODES}, not {config.vocabulary!r}")
    offset = _audio_offset(path)
    if offset is None:
        return [], {"language": None, "language_probability": None, "has_audio": False}
    audio = decode_audio(path, sampling_rate=SR)  # float32 [samples] mono at 16 kHz
    regions = speech_regions(audio, config)
    if not regions:
        return [], {"language": None, "language_probability": None, "has_audio": True, "speech_s": 0.0}
    utterances = _utterances(regions, config.split_gap_s)
    # The same cut-out-the-silence decoding faster-whisper's vad_filter does, but with the regions in
    # hand so that the segments can be snapped back onto them.
    chunks, _ = collect_chunks(audio, regions)
    speech = np.concatenate(chunks)  # float32 [speech samples]
    model = load_model(config, models_dir)
    names = _fit(model, vocabulary or [], config.vocab_max_tokens) if config.vocabulary != "off" else []
    prompt = vocabulary_text(names)
    near: list[dict[str, int]] = []  # name_fix: the regions decoded again with the names
    if config.vocabulary == "name_fix" and names:
        near = regions if shown is None else regions_near(
            regions, [(a - offset, b - offset) for a, b in shown], config.name_margin_s)
    near_n = sum(r["end"] - r["start"] for r in near)
    total = duration_s or len(audio) / SR or 1.0
    first_share = speech.shape[0] / (speech.shape[0] + near_n)  # of the progress bar: by samples decoded

    def report(base: float, share: float) -> Callable[[float], None]:
        return lambda t: progress(base + share * min(1.0, t / total), "transcribing") if progress else None

    hints = {_HINT_ARG[config.vocabulary]: prompt} if prompt and config.vocabulary != "name_fix" else {}
    segs, info = _decode(model, speech, regions, config, hints, report(0.0, first_share))
    words = [list(seg.words or []) for seg in segs]
    if near:
        hinted, _ = _decode(model, np.concatenate(collect_chunks(audio, near)[0]), near, config,
                            {"hotwords": prompt}, report(first_share, 1.0 - first_share))
        picked = [i for i, seg in enumerate(segs) if _inside(seg, near)]  # only these may change
        fixed = fix_names([words[i] for i in picked], [w for seg in hinted for w in seg.words or []], names)
        for i, ws in zip(picked, fixed):
            words[i] = ws
    lang = info.language
    out: list[Segment] = []
    for seg, ws in zip(segs, words):
        pieces = _split(ws, utterances) if ws else [(seg.start, seg.end, seg.text.strip())]
        out += [Segment(round(a + offset, 3), round(b + offset, 3), text, lang) for a, b, text in pieces if text]
    meta = {"language": lang, "language_probability": round(float(info.language_probability), 3),
            "has_audio": True, "model": config.model, "speech_s": round(speech.shape[0] / SR, 2),
            "vocabulary": prompt, "name_fix_s": round(near_n / SR, 2)}
    return out, meta


def compute(ctx: StageContext) -> dict[str, Any]:
    """Stage compute (worker process): the segments as plain dicts plus the language."""
    config = SpeechConfig.from_dict(ctx.config)
    if ctx.facts and ctx.facts.get("has_audio") is False:
        return {"segments": [], "info": {"language": None, "has_audio": False}}
    ctx.report(0.0, f"loading {config.model}")
    names, shown = screen_names(ctx, config)
    segments, info = transcribe(ctx.path, config, ctx.models_dir, ctx.facts.get("duration_s"),
                                progress=ctx.report, vocabulary=names, shown=shown)
    return {"segments": [asdict(s) for s in segments], "info": info}


def screen_names(ctx: StageContext, config: SpeechConfig) -> tuple[list[str], list[tuple[float, float]]]:
    """The names of the video's OCR rows and the times they are on screen (none when the option is off)."""
    if config.vocabulary == "off":
        return [], []
    store = ctx.open_store()
    try:
        rows = store.text_spans("ocr", ctx.video_id)
    finally:
        store.close()
    names = screen_vocabulary(rows, VocabConfig())
    return names, name_spans(rows, names, VocabConfig())


def write(store: Store, video_id: int, result: dict[str, Any]) -> dict[str, Any]:
    """Replace the video's speech rows (inside the caller's transaction); returns counts and the language."""
    rows = [{"start_s": s["start_s"], "end_s": s["end_s"], "text": s["text"], "lang": s["lang"]}
            for s in result["segments"]]
    store.replace_texts("speech", video_id, rows)  # the old rows' vectors go; text_vectors runs again
    info = result.get("info", {})
    return {"speech_segments": len(rows), "language": info.get("language"),
            "language_probability": info.get("language_probability"), "has_audio": info.get("has_audio"),
            "vocabulary": info.get("vocabulary", "")}
