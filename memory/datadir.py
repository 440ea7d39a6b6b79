"""Where CiteClip keeps its files: one data directory with a fixed layout (see DESIGN, "Data directory")."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class DataDir:
    """The data directory and the paths inside it; `ensure()` creates the folders."""

    root: Path  # the folder itself: --data-dir, else $CITECLIP_HOME, else the platform's user data dir

    @property
    def db_path(self) -> Path:
        return self.root / "library.db"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def thumbs_dir(self) -> Path:
        return self.root / "thumbs"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def models_dir(self) -> Path:
        # Tests share one extracted copy of the offline weights across many fresh data dirs.
        override = os.environ.get("CITECLIP_MODELS")
        return Path(override) if override else self.root / "models"

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"

    def ensure(self) -> "DataDir":
        """Create the folders (idempotent) and return self."""
        for p in (self.root, self.index_dir, self.thumbs_dir, self.exports_dir, self.uploads_dir):
            p.mkdir(parents=True, exist_ok=True)
        return self

    @classmethod
    def resolve(cls, arg: str | os.PathLike | None = None) -> "DataDir":
        """The data dir from an explicit argument, $CITECLIP_HOME, or the platform default."""
        if arg:
            return cls(Path(arg).expanduser().resolve())
        env = os.environ.get("CITECLIP_HOME")
        if env:
            return cls(Path(env).expanduser().resolve())
        return cls(Path(platformdirs.user_data_dir("citeclip")))
