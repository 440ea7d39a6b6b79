"""The belief state: one hypothesis per candidate moment, with the steps that support or refute it.

A hypothesis is "the answer is at this clip". Retrieval gives it a prior from its rank; each
verification moves its log-odds up (supported) or down (refuted); being found again by another query
adds a little. Confidence is the logistic of the log-odds, so it stays in (0, 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BeliefConfig:
    prior_top: float = 0.35        # confidence of a top-ranked retrieved clip before any verification
    rank_decay: float = 0.8        # each lower rank multiplies the prior odds by this
    support_logit: float = 2.5     # log-odds added by a "supported" verification
    refute_logit: float = -3.5     # log-odds added by a "refuted" verification
    uncertain_logit: float = -0.3  # a verification that saw nothing either way weakens a little
    again_logit: float = 0.4       # found again by another retrieval
    merge_overlap: float = 0.5     # clips overlapping by this share of the shorter one are one moment


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass
class Hypothesis:
    ref: str                       # the clip ref that first named this moment (c1, ...)
    video_id: int
    start_s: float
    end_s: float
    snippet: str                   # the memory's text for it (video text: data, not instructions)
    logit: float
    supporting: list[int] = field(default_factory=list)  # step numbers (retrievals, supported verifications)
    refuting: list[int] = field(default_factory=list)    # step numbers (refuted verifications)
    verified: list[int] = field(default_factory=list)    # steps of verifications with verdict "supported"
    checked: list[int] = field(default_factory=list)     # steps of every verification of it
    aliases: list[str] = field(default_factory=list)     # other refs that named the same moment

    @property
    def confidence(self) -> float:
        return 1.0 / (1.0 + math.exp(-self.logit))

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "text": f"the answer is at {self.ref} ({self.start_s:.1f}-{self.end_s:.1f} s)",
                "start_s": self.start_s, "end_s": self.end_s, "confidence": round(self.confidence, 4),
                "supporting": list(self.supporting), "refuting": list(self.refuting),
                "verified": bool(self.verified)}


class Beliefs:
    """Hypotheses of one session, updated from tool results."""

    def __init__(self, config: BeliefConfig | None = None) -> None:
        self.config = config or BeliefConfig()
        self.hypotheses: list[Hypothesis] = []

    def by_ref(self, ref: str) -> Hypothesis | None:
        for h in self.hypotheses:
            if h.ref == ref or ref in h.aliases:
                return h
        return None

    def _same_moment(self, h: Hypothesis, video_id: int, a: float, b: float) -> bool:
        if h.video_id != video_id:
            return False
        inter = min(h.end_s, b) - max(h.start_s, a)
        shorter = max(min(h.end_s - h.start_s, b - a), 1e-6)
        return inter / shorter >= self.config.merge_overlap

    def add_retrieval(self, step: int, clips: list[dict[str, Any]]) -> None:
        """Clips of one retrieve_clip result, best first (each has ref, video_id, start_s, end_s, snippet)."""
        c = self.config
        for rank, clip in enumerate(clips):
            existing = next((h for h in self.hypotheses
                             if self._same_moment(h, clip["video_id"], clip["start_s"], clip["end_s"])), None)
            if existing is not None:
                if clip["ref"] != existing.ref and clip["ref"] not in existing.aliases:
                    existing.aliases.append(clip["ref"])
                existing.logit += c.again_logit
                existing.supporting.append(step)
                continue
            prior = _logit(c.prior_top) + rank * math.log(c.rank_decay)
            self.hypotheses.append(Hypothesis(
                ref=clip["ref"], video_id=clip["video_id"], start_s=float(clip["start_s"]),
                end_s=float(clip["end_s"]), snippet=clip.get("snippet") or "", logit=prior,
                supporting=[step]))

    def add_verification(self, step: int, ref: str | None, t_s: float, video_id: int, verdict: str
                         ) -> Hypothesis | None:
        """A verify_frame verdict about a clip ref (or the hypothesis whose span holds t_s)."""
        h = self.by_ref(ref) if ref else next(
            (x for x in self.hypotheses if x.video_id == video_id and x.start_s <= t_s <= x.end_s), None)
        if h is None:
            return None
        c = self.config
        h.checked.append(step)
        if verdict == "supported":
            h.logit += c.support_logit
            h.supporting.append(step)
            h.verified.append(step)
        elif verdict == "refuted":
            h.logit += c.refute_logit
            h.refuting.append(step)
        else:
            h.logit += c.uncertain_logit
        return h

    def ranked(self) -> list[Hypothesis]:
        return sorted(self.hypotheses, key=lambda h: -h.logit)

    def supported(self) -> list[Hypothesis]:
        """Verified hypotheses that no later verification refuted, best first."""
        return [h for h in self.ranked() if h.verified and not h.refuting]

    def to_dicts(self, limit: int = 8) -> list[dict[str, Any]]:
        return [h.to_dict() for h in self.ranked()[:limit]]
