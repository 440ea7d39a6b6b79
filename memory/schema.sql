-- The library's tables, schema v2 (`memory.store` creates, migrates and queries them).
-- FTS5 tables mirror speech and OCR text through triggers that `Store._migrate` makes.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS videos (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    title TEXT,
    path TEXT,
    size_bytes INTEGER,
    duration_s REAL,
    fps REAL,
    width INTEGER,
    height INTEGER,
    rotation INTEGER DEFAULT 0,
    has_audio INTEGER DEFAULT 0,
    visual INTEGER,              -- 1 image vectors exist, 0 no image encoder was available, NULL not yet known
    status TEXT NOT NULL DEFAULT 'indexing',   -- indexing | ready | failed
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stages (
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    seconds REAL,
    info TEXT,                   -- JSON: counts and facts the stage reports
    finished REAL,
    PRIMARY KEY (video_id, name)
);
CREATE TABLE IF NOT EXISTS shots (
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    keyframe_s REAL,
    thumb TEXT,                  -- path relative to the data dir
    UNIQUE (video_id, idx)
);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    shot_id INTEGER NOT NULL REFERENCES shots(id) ON DELETE CASCADE,
    t_s REAL NOT NULL,
    thumb TEXT                   -- path relative to the data dir
);
CREATE TABLE IF NOT EXISTS speech (
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    text TEXT NOT NULL,
    lang TEXT
);
CREATE TABLE IF NOT EXISTS ocr (
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    start_s REAL NOT NULL,       -- first frame where the line was read
    end_s REAL NOT NULL,         -- last frame where the same line was read
    text TEXT NOT NULL,
    conf REAL
);
CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- also the FAISS id; never reused, so a FAISS file whose ids
    --                                        match SQLite's holds these very rows (schema v2)
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,          -- image | speech | ocr
    ref_id INTEGER NOT NULL,     -- frames.id, speech.id or ocr.id
    model_id TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vec BLOB NOT NULL            -- float32, L2-normalised
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    video_id INTEGER REFERENCES videos(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',    -- running | answered | not_found | unverified | failed
    answer TEXT,                 -- JSON
    created REAL NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,       -- JSON of the context event
    started REAL,
    finished REAL,
    UNIQUE (session_id, n)
);
CREATE INDEX IF NOT EXISTS shots_video ON shots(video_id, start_s);
CREATE INDEX IF NOT EXISTS frames_video ON frames(video_id, t_s);
CREATE INDEX IF NOT EXISTS speech_video ON speech(video_id, start_s);
CREATE INDEX IF NOT EXISTS ocr_video ON ocr(video_id, start_s);
CREATE INDEX IF NOT EXISTS vectors_kind ON vectors(kind, model_id);
CREATE INDEX IF NOT EXISTS vectors_ref ON vectors(kind, ref_id);
CREATE INDEX IF NOT EXISTS steps_session ON steps(session_id, n);
