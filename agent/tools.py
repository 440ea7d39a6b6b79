"""The agent's two tools, `retrieve_clip` and `verify_frame`, with OpenAI-style JSON schemas.

Arguments are validated with jsonschema; times are clamped to the video. A mistake the model makes
(bad arguments, an unknown clip ref, an unavailable channel) raises `ToolArgumentError`, which the loop
turns into an event; anything else is our bug and propagates. Model text is only ever used as a search
query or a claim: it never becomes a path (frames are saved under names built from integers).
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from agent import prompts, textmatch
from memory.types import CHANNELS

MODALITIES = ("any",) + CHANNELS

RETRIEVE_CLIP = {
    "type": "function",
    "function": {
        "name": "retrieve_clip",
        "description": "Search the video's memory (speech transcript, on-screen text, image vectors) and "
                       "return ranked clips, each with a ref (c1, c2, ...), its span, score, the channels "
                       "that matched and a text snippet.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "maxLength": 200,
                          "description": "what to look for, in words"},
                "k": {"type": "integer", "minimum": 1, "maximum": 10, "description": "how many clips"},
                "start_s": {"type": "number", "description": "only clips after this time (seconds)"},
                "end_s": {"type": "number", "description": "only clips before this time (seconds)"},
                "modality": {"type": "string", "enum": list(MODALITIES),
                             "description": "one channel, or any"},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    },
}

VERIFY_FRAME = {
    "type": "function",
    "function": {
        "name": "verify_frame",
        "description": "Look at the frame(s) of a retrieved clip (by ref) or at a time, and judge a claim "
                       "with the methods available (a VLM, CLIP against contrast prompts, OCR of the "
                       "frames, the transcript around them). Returns supported, refuted or uncertain.",
        "parameters": {
            "type": "object",
            "properties": {
                "claim": {"type": "string", "minLength": 1, "maxLength": 300,
                          "description": "what should be true at that moment"},
                "clip": {"type": "string", "pattern": "^c[0-9]{1,4}$", "description": "a clip ref, e.g. c2"},
                "t_s": {"type": "number", "description": "a time in seconds (when no clip ref is given)"},
            },
            "required": ["claim"],
            "additionalProperties": False,
        },
    },
}

TOOL_SCHEMAS: list[dict[str, Any]] = [RETRIEVE_CLIP, VERIFY_FRAME]
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOL_SCHEMAS)


class ToolArgumentError(ValueError):
    """The model called a tool wrongly; the loop records it as an event and goes on."""


@dataclass(frozen=True)
class ToolConfig:
    default_k: int = 5                 # clips per retrieval when the model gives no k
    transcript_pad_s: float = 2.0      # transcript window around a clip (or t_s +- 2 * pad)
    frames_per_clip: int = 1           # frames decoded per clip (keyframe, then midpoint); OCR'd at full size
    text_support: float = 0.6          # share of the claim's words that OCR/transcript must contain
    clip_support: float = 0.55         # CLIP probability of the claim over contrasts to support
    clip_refute: float = 0.1           # ... below which CLIP counts against it
    ocr_min_conf: float = 0.5          # OCR lines below this confidence (0..1) are ignored
    thumb_max_side: int = 640          # saved verification frames are this size at most
    contrasts: tuple[str, ...] = ("a photo", "a blank screen", "something else entirely")  # CLIP contrast prompts


@dataclass
class Verdict:
    """What verify_frame found."""

    verdict: str                       # supported | refuted | uncertain
    methods: list[str]                 # vlm / clip / ocr / transcript actually used
    evidence: str                      # one line per method (video text inside)
    t_s: float                         # the first frame looked at
    ref: str | None                    # the clip ref, when a clip was verified
    span: tuple[float, float]          # the span judged
    thumb: str | None                  # absolute path of the saved frame
    scores: dict[str, float] = field(default_factory=dict)  # per-method score in [0, 1]


def _library_error() -> type[Exception]:
    try:
        from memory.library import LibraryError
    except ImportError:  # the memory room's facade is not there yet: nothing to translate
        return _NoError
    return LibraryError


class _NoError(Exception):
    pass


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


_VALIDATORS = {t["function"]["name"]: _validator(t["function"]["parameters"]) for t in TOOL_SCHEMAS}


def validate_arguments(tool: str, arguments: Any) -> dict[str, Any]:
    """Check a tool call against its schema; ToolArgumentError names the first problem."""
    if tool not in _VALIDATORS:
        raise ToolArgumentError(f"unknown tool {tool!r}; available: {', '.join(TOOL_NAMES)}")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as e:
            raise ToolArgumentError(f"{tool}: arguments are not JSON ({e.msg})") from None
    if not isinstance(arguments, dict):
        raise ToolArgumentError(f"{tool}: arguments must be an object")
    err = jsonschema.exceptions.best_match(_VALIDATORS[tool].iter_errors(arguments))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "arguments"
        raise ToolArgumentError(f"{tool}: {where}: {err.message}")
    return copy.deepcopy(arguments)


def canonical(tool: str, arguments: dict[str, Any]) -> str:
    """A key that is equal for identical calls (used to refuse repeats)."""
    return tool + json.dumps(arguments, sort_keys=True, separators=(",", ":"))


class ToolBox:
    """The tools bound to one library, one video and one session; it remembers the clips it returned."""

    def __init__(self, library: Any, video_id: int, duration_s: float, session_id: int | None = None,
                 config: ToolConfig | None = None,
                 judge: Callable[[list[Any], str], tuple[str, str]] | None = None) -> None:
        self.library = library
        self.video_id = int(video_id)
        self.duration_s = float(duration_s)
        self.session_id = session_id
        self.config = config or ToolConfig()
        self.judge = judge              # a VLM's (images, claim) -> (yes|no|unsure, reason), where there is one
        self.clips: dict[str, dict[str, Any]] = {}  # ref -> clip dict (with "ref" and "step")
        self._encoder: Any = None
        self._encoder_checked = False

    # -- arguments ------------------------------------------------------------------------------
    def clamp_time(self, t: float) -> float:
        return min(max(float(t), 0.0), self.duration_s)

    def prepare(self, tool: str, arguments: Any) -> dict[str, Any]:
        """Validate and clamp; the result is what gets executed and recorded."""
        args = validate_arguments(tool, arguments)
        if tool == "retrieve_clip":
            args["query"] = " ".join(args["query"].split())
            if not args["query"]:
                raise ToolArgumentError("retrieve_clip: query is empty")
            args.setdefault("k", self.config.default_k)
            for key in ("start_s", "end_s"):
                if key in args:
                    args[key] = round(self.clamp_time(args[key]), 3)
            if "start_s" in args and "end_s" in args and args["end_s"] <= args["start_s"]:
                raise ToolArgumentError("retrieve_clip: end_s must be after start_s (within the video)")
            if args.get("modality") == "any":
                del args["modality"]
        else:
            args["claim"] = " ".join(args["claim"].split())
            if "clip" in args and "t_s" in args:
                raise ToolArgumentError("verify_frame: give either clip or t_s, not both")
            if "clip" not in args and "t_s" not in args:
                raise ToolArgumentError("verify_frame: give a clip ref or t_s")
            if "clip" in args and args["clip"] not in self.clips:
                known = ", ".join(self.clips) or "none yet"
                raise ToolArgumentError(f"verify_frame: no retrieved clip {args['clip']} (known: {known})")
            if "t_s" in args:
                args["t_s"] = round(self.clamp_time(args["t_s"]), 3)
        return args

    # -- retrieve_clip --------------------------------------------------------------------------
    def retrieve_clip(self, args: dict[str, Any], step: int) -> list[dict[str, Any]]:
        """Run a prepared retrieve_clip; returns clip dicts with refs, best first."""
        channels = [args["modality"]] if "modality" in args else None
        try:
            clips = self.library.search(self.video_id, args["query"], k=int(args["k"]),
                                        start_s=args.get("start_s"), end_s=args.get("end_s"),
                                        channels=channels)
        except _library_error() as e:  # e.g. the image channel is unavailable: the model asked for it
            raise ToolArgumentError(f"retrieve_clip: {e}") from None
        out = []
        for clip in clips:
            d = clip.to_dict()
            d["start_s"], d["end_s"] = self.clamp_time(d["start_s"]), self.clamp_time(d["end_s"])
            ref = next((r for r, c in self.clips.items()
                        if abs(c["start_s"] - d["start_s"]) < 1e-3 and abs(c["end_s"] - d["end_s"]) < 1e-3), None)
            if ref is None:
                ref = f"c{len(self.clips) + 1}"
                self.clips[ref] = {**d, "ref": ref, "step": step}
            out.append({**d, "ref": ref})
        return out

    # -- verify_frame ---------------------------------------------------------------------------
    def _times(self, args: dict[str, Any]) -> tuple[list[float], tuple[float, float], str | None]:
        pad = self.config.transcript_pad_s
        if "clip" in args:
            c = self.clips[args["clip"]]
            a, b = float(c["start_s"]), float(c["end_s"])
            key = c.get("keyframe_s")
            times = [float(key)] if key is not None and a <= key <= b else []
            mid = (a + b) / 2
            if len(times) < self.config.frames_per_clip and all(abs(mid - t) > 0.25 for t in times):
                times.append(mid)
            span = (max(0.0, a - pad), min(self.duration_s, b + pad))
            return [self.clamp_time(t) for t in times], span, args["clip"]
        t = args["t_s"]
        return [t], (max(0.0, t - 2 * pad), min(self.duration_s, t + 2 * pad)), None

    def image_encoder(self) -> Any:
        if not self._encoder_checked:
            self._encoder = self.library.image_encoder()
            self._encoder_checked = True
        return self._encoder

    def _thumb_path(self, step: int, i: int) -> Path:
        # Only integers go into the name: model text never reaches the file system.
        sid = "x" if self.session_id is None else str(int(self.session_id))
        folder = Path(self.library.data.thumbs_dir) / str(self.video_id) / "verify"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"s{sid}_n{int(step)}_{int(i)}.jpg"

    def verify_frame(self, args: dict[str, Any], step: int) -> Verdict:
        """Run a prepared verify_frame: decode the frames and judge the claim with every method available."""
        cfg = self.config
        claim = args["claim"]
        times, span, ref = self._times(args)
        images = [self.library.frame_at(self.video_id, t) for t in times]
        thumb = None
        if images:
            small = images[0].copy()
            small.thumbnail((cfg.thumb_max_side, cfg.thumb_max_side))
            path = self._thumb_path(step, 0)
            small.convert("RGB").save(path, "JPEG", quality=85)
            thumb = str(path)
        methods: list[str] = []
        lines: list[str] = []
        scores: dict[str, float] = {}
        support = refute = False

        if self.judge is not None and images:
            answer, reason = self.judge(images, claim)
            methods.append("vlm")
            lines.append(f"vlm: {answer} ({reason})")
            scores["vlm"] = {"yes": 1.0, "no": 0.0}.get(answer, 0.5)
            support |= answer == "yes"
            refute |= answer == "no"

        enc = self.image_encoder()
        if enc is not None and images:
            p = clip_probability(enc, images, claim, cfg.contrasts)
            methods.append("clip")
            lines.append(f"clip: p(claim) = {p:.2f} against {len(cfg.contrasts)} contrast prompts")
            scores["clip"] = p
            support |= p >= cfg.clip_support
            refute |= p <= cfg.clip_refute

        ocr_text, ocr_read = self._ocr(images, span)
        if ocr_read:
            cov = textmatch.coverage(claim, ocr_text, fuzzy=True)
            methods.append("ocr")
            lines.append(f"ocr: {ocr_text[:200] or '(no text)'} (covers {cov:.0%} of the claim)")
            scores["ocr"] = cov
            support |= cov >= cfg.text_support
            # A claim that quotes on-screen text is refuted when text was read there and the quote is absent.
            for q in textmatch.quoted(claim):
                if ocr_text.strip() and textmatch.coverage(q, ocr_text, fuzzy=True) < 0.5:
                    refute = True
                    lines.append(f"ocr: the quoted text {q!r} is not on screen")

        rows = self.library.transcript(self.video_id, span[0], span[1])
        if rows or self._has_speech():
            said = " ".join(r["text"] for r in rows)
            cov = textmatch.coverage(claim, said)
            methods.append("transcript")
            lines.append(f"transcript {prompts.fmt_span(*span)}: {said[:240] or '(silence)'} (covers {cov:.0%})")
            scores["transcript"] = cov
            support |= cov >= cfg.text_support

        verdict = "supported" if support and not refute else "refuted" if refute and not support else "uncertain"
        return Verdict(verdict=verdict, methods=methods, evidence="\n".join(lines), t_s=times[0] if times else 0.0,
                       ref=ref, span=span, thumb=thumb, scores=scores)

    def _has_speech(self) -> bool:
        return bool(self.library.transcript(self.video_id, None, None)[:1])

    def _ocr(self, images: Sequence[Any], span: tuple[float, float]) -> tuple[str, bool]:
        """Text on the frames (read now at full resolution) plus the indexed on-screen text of the span."""
        texts: list[str] = []
        read = False
        try:
            from memory.ocr import read_text
        except ImportError:  # the OCR module of the memory room is not installed: the method is unavailable
            read_text = None
        if read_text is not None:
            for im in images:
                read = True
                for text, conf in read_text(im):
                    conf = conf / 100.0 if conf > 1 else conf
                    if conf >= self.config.ocr_min_conf and text.strip():
                        texts.append(text.strip())
        rows = self.library.screen_text(self.video_id, span[0], span[1])
        for r in rows:
            read = True
            if r["text"].strip() and r["text"].strip() not in texts:
                texts.append(r["text"].strip())
        return " | ".join(texts), read


def clip_probability(encoder: Any, images: Sequence[Any], claim: str, contrasts: Sequence[str]) -> float:
    """Softmax probability of the claim against contrast prompts, best over the frames."""
    import numpy as np

    img = np.asarray(encoder.encode_images(list(images)), dtype=np.float32)      # [frames, d]
    txt = np.asarray(encoder.encode_texts([claim, *contrasts]), dtype=np.float32)  # [1 + contrasts, d]
    img /= np.linalg.norm(img, axis=1, keepdims=True) + 1e-8
    txt /= np.linalg.norm(txt, axis=1, keepdims=True) + 1e-8
    logits = 100.0 * img @ txt.T                                                  # [frames, 1 + contrasts]
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    return float(p[:, 0].max())
