"""Which exceptions are written for a user: `assets.errors` decides, for the command line and the UI alike.

Kept as an import path for the UI (`ui.jobs`); the rule itself is the shared base class `UserError`.
"""
from __future__ import annotations

from assets.errors import UserError, is_user_error

__all__ = ["UserError", "is_user_error"]
