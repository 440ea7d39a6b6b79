"""`retrieve_clip`: search the video's memory and give each returned span a stable ref (c1, c2, ...)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.context import Span, ToolResultEvent
from agent.tools.base import Tool, ToolArgumentError
from memory.types import CHANNELS

if TYPE_CHECKING:
    from agent.beliefs import Beliefs
    from agent.tools.box import ToolBox

MODALITIES = ("any",) + CHANNELS
Clips = list[dict[str, Any]]

RETRIEVE_CLIP: dict[str, Any] = {
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


class RetrieveClip(Tool[Clips, ToolResultEvent]):
    """Ranked clips for a query; a span returned before keeps its ref, so refs stay stable in a session."""

    name = "retrieve_clip"
    schema = RETRIEVE_CLIP

    def prepare(self, box: ToolBox, args: dict[str, Any]) -> dict[str, Any]:
        args["query"] = " ".join(args["query"].split())
        if not args["query"]:
            raise ToolArgumentError("retrieve_clip: query is empty")
        args.setdefault("k", box.config.default_k)
        for key in ("start_s", "end_s"):
            if key in args:
                args[key] = round(box.clamp_time(args[key]), 3)
        if "start_s" in args and "end_s" in args and args["end_s"] <= args["start_s"]:
            raise ToolArgumentError("retrieve_clip: end_s must be after start_s (within the video)")
        if args.get("modality") == "any":
            del args["modality"]
        return args

    def call_spans(self, box: ToolBox, args: dict[str, Any]) -> list[Span]:
        if "start_s" in args or "end_s" in args:
            return [(args.get("start_s", 0.0), args.get("end_s", box.duration_s))]
        return []

    def run(self, box: ToolBox, args: dict[str, Any], step: int) -> Clips:
        """Clip dicts with refs, best first."""
        from memory.library import LibraryError

        channels = [args["modality"]] if "modality" in args else None
        try:
            clips = box.library.search(box.video_id, args["query"], k=int(args["k"]),
                                       start_s=args.get("start_s"), end_s=args.get("end_s"), channels=channels)
        except LibraryError as e:  # e.g. the image channel is unavailable: the model asked for it
            raise ToolArgumentError(f"retrieve_clip: {e}") from None
        out = []
        for clip in clips:
            d = clip.to_dict()
            d["start_s"], d["end_s"] = box.clamp_time(d["start_s"]), box.clamp_time(d["end_s"])
            ref = next((r for r, c in box.clips.items()
                        if abs(c["start_s"] - d["start_s"]) < 1e-3 and abs(c["end_s"] - d["end_s"]) < 1e-3), None)
            if ref is None:
                ref = f"c{len(box.clips) + 1}"
                box.clips[ref] = {**d, "ref": ref, "step": step}
            out.append({**d, "ref": ref})
        return out

    def record(self, result: Clips, args: dict[str, Any], call: int, started: float) -> ToolResultEvent:
        return ToolResultEvent(tool=self.name, clips=result, call=call, started=started,
                               spans=[(c["start_s"], c["end_s"]) for c in result])

    def learn(self, beliefs: Beliefs, event: ToolResultEvent, video_id: int) -> None:
        beliefs.add_retrieval(event.n, event.clips)
