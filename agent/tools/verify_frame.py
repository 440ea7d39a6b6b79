"""`verify_frame`: look at the frame(s) of a retrieved clip (or a time) and judge a claim with every method there is.

The methods: the policy's own eyes where it sees images (a VLM: several frames spread over the clip go to
its `judge` with the claim; its verdict, its reason and the frames it saw are recorded), CLIP against
contrast prompts, OCR of the frames plus the indexed on-screen text, and the transcript around them. Model
text is only ever used as a claim: it never becomes a path (frames are saved under names built from integers).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from agent import prompts, textmatch
from agent.context import Span, VerificationEvent
from agent.tools.base import Tool, ToolArgumentError

if TYPE_CHECKING:
    from agent.beliefs import Beliefs
    from agent.policy import Judge
    from agent.tools.box import ToolBox
    from memory.encoders import ImageTextEncoder

VERIFY_FRAME: dict[str, Any] = {
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


@dataclass(frozen=True)
class JudgeFrames:
    """Which frames the policy's eyes see."""

    count: int = 4           # frames spread evenly over the clip (in time order); the model sizes them itself
    around_s: float = 1.0    # a bare time is judged on frames spread over t +- this many seconds


@dataclass
class Verdict:
    """What verify_frame found."""

    verdict: str                       # supported | refuted | uncertain
    methods: list[str]                 # vlm / clip / ocr / transcript actually used
    evidence: str                      # one line per method (video text inside)
    t_s: float                         # the first frame looked at
    ref: str | None                    # the clip ref, when a clip was verified
    span: Span                         # the span judged
    thumb: str | None                  # absolute path of the saved frame
    scores: dict[str, float] = field(default_factory=dict)  # per-method score in [0, 1]
    frames: list[dict[str, Any]] = field(default_factory=list)  # the frames the VLM judged: {"t_s", "thumb"}


@dataclass
class _Judgement:
    """The methods' findings as they are gathered."""

    methods: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    support: bool = False
    refute: bool = False

    def add(self, method: str, line: str, score: float, support: bool, refute: bool = False) -> None:
        self.methods.append(method)
        self.lines.append(line)
        self.scores[method] = score
        self.support |= support
        self.refute |= refute

    @property
    def verdict(self) -> str:
        if self.support and not self.refute:
            return "supported"
        return "refuted" if self.refute and not self.support else "uncertain"


class VerifyFrame(Tool[Verdict, VerificationEvent]):
    """Judge a claim at a clip or a time: supported, refuted or uncertain, with each method's evidence."""

    name = "verify_frame"
    schema = VERIFY_FRAME

    def __init__(self, judge_frames: JudgeFrames = JudgeFrames()) -> None:
        super().__init__()
        self.judge_frames = judge_frames

    def prepare(self, box: ToolBox, args: dict[str, Any]) -> dict[str, Any]:
        args["claim"] = " ".join(args["claim"].split())
        if "clip" in args and "t_s" in args:
            raise ToolArgumentError("verify_frame: give either clip or t_s, not both")
        if "clip" not in args and "t_s" not in args:
            raise ToolArgumentError("verify_frame: give a clip ref or t_s")
        if "clip" in args and args["clip"] not in box.clips:
            known = ", ".join(box.clips) or "none yet"
            raise ToolArgumentError(f"verify_frame: no retrieved clip {args['clip']} (known: {known})")
        if "t_s" in args:
            args["t_s"] = round(box.clamp_time(args["t_s"]), 3)
        return args

    def call_spans(self, box: ToolBox, args: dict[str, Any]) -> list[Span]:
        if "clip" in args:
            c = box.clips[args["clip"]]
            return [(c["start_s"], c["end_s"])]
        return [(args["t_s"], args["t_s"])]

    def record(self, result: Verdict, args: dict[str, Any], call: int, started: float) -> VerificationEvent:
        v = result
        return VerificationEvent(t_s=v.t_s, claim=args["claim"], verdict=v.verdict, methods=v.methods,
                                 evidence=v.evidence, thumb=v.thumb, ref=v.ref, scores=v.scores,
                                 frames=v.frames, call=call, started=started, spans=[v.span])

    def learn(self, beliefs: Beliefs, event: VerificationEvent, video_id: int) -> None:
        beliefs.add_verification(event.n, event.ref, event.t_s, video_id, event.verdict)

    def run(self, box: ToolBox, args: dict[str, Any], step: int) -> Verdict:
        """Decode the frames and judge the claim with every method available."""
        cfg = box.config
        claim = args["claim"]
        times, span, ref = self._times(box, args)
        images = [box.library.frame_at(box.video_id, t) for t in times]
        thumb = self._save_thumb(box, images[0], step) if images else None
        found = _Judgement()
        seen: list[dict[str, Any]] = []

        if box.judge is not None and images:
            seen = self._judge(box, box.judge, claim, self.call_spans(box, args)[0], step, found)

        enc = box.image_encoder()
        if enc is not None and images:
            p = clip_probability(enc, images, claim, cfg.contrasts)
            found.add("clip", f"clip: p(claim) = {p:.2f} against {len(cfg.contrasts)} contrast prompts", p,
                      support=p >= cfg.clip_support, refute=p <= cfg.clip_refute)

        ocr_text, ocr_read = self._ocr(box, images, span)
        if ocr_read:
            cov = textmatch.coverage(claim, ocr_text, fuzzy=True)
            found.add("ocr", f"ocr: {ocr_text[:200] or '(no text)'} (covers {cov:.0%} of the claim)", cov,
                      support=cov >= cfg.text_support)
            # A claim that quotes on-screen text is refuted when text was read there and the quote is absent.
            for q in textmatch.quoted(claim):
                if ocr_text.strip() and textmatch.coverage(q, ocr_text, fuzzy=True) < 0.5:
                    found.refute = True
                    found.lines.append(f"ocr: the quoted text {q!r} is not on screen")

        rows = box.library.transcript(box.video_id, span[0], span[1])
        if rows or box.library.transcript(box.video_id, None, None)[:1]:
            said = " ".join(r["text"] for r in rows)
            cov = textmatch.coverage(claim, said)
            found.add("transcript",
                      f"transcript {prompts.fmt_span(*span)}: {said[:240] or '(silence)'} (covers {cov:.0%})", cov,
                      support=cov >= cfg.text_support)

        return Verdict(verdict=found.verdict, methods=found.methods, evidence="\n".join(found.lines),
                       t_s=times[0] if times else 0.0, ref=ref, span=span, thumb=thumb, scores=found.scores,
                       frames=seen)

    def judge_times(self, box: ToolBox, span: Span) -> list[float]:
        """Frame times for the VLM: `count` spread evenly over a clip's span (centres of equal parts), or
        over t +- around_s for a bare time (span of zero length); in the video, in order, without repeats."""
        a, b = span
        if b - a <= 0:
            a, b = a - self.judge_frames.around_s, b + self.judge_frames.around_s
        n = max(1, self.judge_frames.count)
        times = [box.clamp_time(a + (i + 0.5) * (b - a) / n) for i in range(n)]
        return sorted({round(t, 3) for t in times})

    def _judge(self, box: ToolBox, judge: Judge, claim: str, span: Span, step: int,
               found: _Judgement) -> list[dict[str, Any]]:
        """Ask the policy's eyes about the claim on frames spread over `span`; returns the frames it saw."""
        times = self.judge_times(box, span)
        frames = [box.library.frame_at(box.video_id, t) for t in times]
        answer, reason = judge(frames, claim)
        seen = [{"t_s": t, "thumb": self._save_thumb(box, im, step, f"v{i}")}
                for i, (t, im) in enumerate(zip(times, frames))]
        at = ", ".join(prompts.fmt_time(t) for t in times)
        found.add("vlm", f"vlm on {len(frames)} frames ({at}): {answer} ({reason})",
                  {"yes": 1.0, "no": 0.0}.get(answer, 0.5), support=answer == "yes", refute=answer == "no")
        return seen

    def _times(self, box: ToolBox, args: dict[str, Any]) -> tuple[list[float], Span, str | None]:
        """The frame times to look at, the span whose text is read, and the clip ref."""
        pad = box.config.transcript_pad_s
        if "clip" in args:
            c = box.clips[args["clip"]]
            a, b = float(c["start_s"]), float(c["end_s"])
            key = c.get("keyframe_s")
            times = [float(key)] if key is not None and a <= key <= b else []
            mid = (a + b) / 2
            if len(times) < box.config.frames_per_clip and all(abs(mid - t) > 0.25 for t in times):
                times.append(mid)
            span = (max(0.0, a - pad), min(box.duration_s, b + pad))
            return [box.clamp_time(t) for t in times], span, args["clip"]
        t = args["t_s"]
        return [t], (max(0.0, t - 2 * pad), min(box.duration_s, t + 2 * pad)), None

    def _save_thumb(self, box: ToolBox, image: Image.Image, step: int, suffix: str = "0") -> str:
        small = image.copy()
        small.thumbnail((box.config.thumb_max_side, box.config.thumb_max_side))
        # Only integers go into the name: model text never reaches the file system.
        sid = "x" if box.session_id is None else str(int(box.session_id))
        folder = Path(box.library.data.thumbs_dir) / str(box.video_id) / "verify"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"s{sid}_n{int(step)}_{suffix}.jpg"
        small.convert("RGB").save(path, "JPEG", quality=85)
        return str(path)

    def _ocr(self, box: ToolBox, images: Sequence[Image.Image], span: Span) -> tuple[str, bool]:
        """Text on the frames (read now at full resolution) plus the indexed on-screen text of the span."""
        from memory.stages.ocr import read_text

        texts: list[str] = []
        read = False
        for im in images:
            read = True
            for text, conf in read_text(im):
                conf = conf / 100.0 if conf > 1 else conf
                if conf >= box.config.ocr_min_conf and text.strip():
                    texts.append(text.strip())
        for r in box.library.screen_text(box.video_id, span[0], span[1]):
            read = True
            if r["text"].strip() and r["text"].strip() not in texts:
                texts.append(r["text"].strip())
        return " | ".join(texts), read


def clip_probability(encoder: ImageTextEncoder, images: Sequence[Image.Image], claim: str,
                     contrasts: Sequence[str]) -> float:
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
