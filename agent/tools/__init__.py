"""The agent's tools, `retrieve_clip` and `verify_frame`, as objects in a registry the loop looks names up in.

Arguments are validated with jsonschema against each tool's OpenAI-style schema; times are clamped to
the video. A mistake the model makes raises `ToolArgumentError`, which the loop turns into an event;
anything else is our bug and propagates.
"""
from agent.tools.base import Tool, ToolArgumentError, ToolConfig, canonical
from agent.tools.box import TOOL_NAMES, TOOL_SCHEMAS, TOOLS, ToolBox, get_tool, validate_arguments
from agent.tools.retrieve_clip import RETRIEVE_CLIP, RetrieveClip
from agent.tools.verify_frame import VERIFY_FRAME, Verdict, VerifyFrame, clip_probability

__all__ = ["RETRIEVE_CLIP", "TOOLS", "TOOL_NAMES", "TOOL_SCHEMAS", "VERIFY_FRAME", "RetrieveClip", "Tool",
           "ToolArgumentError", "ToolBox", "ToolConfig", "Verdict", "VerifyFrame", "canonical", "clip_probability",
           "get_tool", "validate_arguments"]
