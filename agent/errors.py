"""Which exceptions are written for a user: the one list the command line and the UI both consult.

An error of these classes (or a subclass) already carries a one-line message a user can act on, so
`python -m agent` prints it as `error: ...` and the UI shows it as is; anything else is our bug, and
keeps its traceback on the command line and its type name in the UI.
"""
from __future__ import annotations

# Class names, not classes: most live in memory/ and model/, whose modules pull in heavy imports (torch,
# PyAV) that neither the CLI's error path nor `import ui` should pay for.
USER_ERRORS: frozenset[str] = frozenset({
    # memory
    "LibraryError", "StoreError", "IndexingError", "DecodeError", "EncoderUnavailable", "WeightsMissing",
    # model
    "AssetError",
    # agent
    "PolicyError", "ExportError", "SessionError",
    # bad arguments and missing files, which the rooms word for the user
    "ValueError", "FileNotFoundError",
})


def is_user_error(exc: BaseException) -> bool:
    """True when `exc` is (a subclass of) one of `USER_ERRORS`: its message is meant for the user."""
    return any(cls.__name__ in USER_ERRORS for cls in type(exc).__mro__)
