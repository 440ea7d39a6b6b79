"""The tool registry and the ToolBox: the tools bound to one library, one video and one session."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agent.tools.base import Tool, ToolArgumentError, ToolConfig
from agent.tools.retrieve_clip import RetrieveClip
from agent.tools.verify_frame import VerifyFrame

if TYPE_CHECKING:
    from agent.policy import Judge
    from memory.encoders import ImageTextEncoder
    from memory.library import Library

TOOLS: dict[str, Tool[Any, Any]] = {t.name: t for t in (RetrieveClip(), VerifyFrame())}
TOOL_SCHEMAS: list[dict[str, Any]] = [t.schema for t in TOOLS.values()]
TOOL_NAMES = tuple(TOOLS)


def get_tool(name: str, tools: Mapping[str, Tool[Any, Any]] = TOOLS) -> Tool[Any, Any]:
    """The tool of that name; an unknown name is the model's error."""
    if name not in tools:
        raise ToolArgumentError(f"unknown tool {name!r}; available: {', '.join(tools)}")
    return tools[name]


def validate_arguments(tool: str, arguments: Any) -> dict[str, Any]:
    """Check a tool call against its schema; ToolArgumentError names the first problem."""
    return get_tool(tool).validate(arguments)


class ToolBox:
    """The session's tools and their shared state: the clips returned so far (ref -> clip dict)."""

    def __init__(self, library: Library, video_id: int, duration_s: float, session_id: int | None = None,
                 config: ToolConfig | None = None, judge: Judge | None = None,
                 tools: Mapping[str, Tool[Any, Any]] = TOOLS) -> None:
        self.library = library
        self.video_id = int(video_id)
        self.duration_s = float(duration_s)
        self.session_id = session_id
        self.config = config or ToolConfig()
        self.judge = judge              # the policy's eyes, where it sees images
        self.tools = tools
        self.clips: dict[str, dict[str, Any]] = {}  # ref -> clip dict (with "ref" and "step")
        self._encoder: ImageTextEncoder | None = None
        self._encoder_checked = False

    def get(self, name: str) -> Tool[Any, Any]:
        """The tool the policy named (ToolArgumentError when there is none)."""
        return get_tool(name, self.tools)

    def clamp_time(self, t: float) -> float:
        return min(max(float(t), 0.0), self.duration_s)

    def prepare(self, name: str, arguments: Any) -> dict[str, Any]:
        """Validate and clamp; the result is what gets executed and recorded."""
        tool = self.get(name)
        return tool.prepare(self, tool.validate(arguments))

    def run(self, name: str, args: dict[str, Any], step: int) -> Any:
        """Execute a prepared call (what the tool gives: clip dicts, a Verdict)."""
        return self.get(name).run(self, args, step)

    def image_encoder(self) -> ImageTextEncoder | None:
        """The library's image-text encoder, asked for once per session."""
        if not self._encoder_checked:
            self._encoder = self.library.image_encoder()
            self._encoder_checked = True
        return self._encoder
