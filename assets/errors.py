"""The one base class of errors written for a user.

An error of this class (or a subclass) already carries a one-line message a user can act on, so the
command lines print it as `error: ...` and the UI shows it as is; anything else is our bug, and keeps
its traceback on the command line and its type name in the UI. It lives in the leaf package so that
`memory/`, `model/` and `agent/` can all derive from it without importing each other.
"""
from __future__ import annotations


class UserError(Exception):
    """A failure the user caused or can fix (bad input, missing weights, unknown id); one plain line."""


def is_user_error(exc: BaseException) -> bool:
    """True when `exc` carries a message meant for the user: a `UserError`, or the plain `ValueError`
    and `FileNotFoundError` that the rooms raise for bad arguments and missing files."""
    return isinstance(exc, (UserError, ValueError, FileNotFoundError))
