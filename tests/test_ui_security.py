"""What the app serves: only uploads/, thumbs/ and exports/; never the database, index or models;
and it refuses to listen beyond loopback (or open a share link) without a login."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import httpx
import pytest

import app as app_mod
from memory.library import Library
from tests.ui_app import start

ROOT = Path(__file__).resolve().parent.parent
SQLITE_MAGIC = b"SQLite format 3"


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    root = tmp_path_factory.mktemp("sec") / "data"
    library = Library(root, image_encoder=None)
    data = library.data
    video = library.store.add_video("ab" * 32, "clip", str(data.uploads_dir / ("ab" * 8) / "clip.mp4"), 9)
    assert video.id == 1  # thumbs/1/ below belongs to it: only files the library knows are served
    (data.uploads_dir / ("ab" * 8)).mkdir(parents=True)
    (data.uploads_dir / ("ab" * 8) / "clip.mp4").write_bytes(b"VIDEO")
    (data.index_dir / "manifest.json").write_text('{"secret": "index"}')
    (data.root / "models").mkdir(exist_ok=True)
    (data.root / "models" / "weights.bin").write_bytes(b"MODEL-BYTES")
    (data.thumbs_dir / "1").mkdir(parents=True, exist_ok=True)
    (data.thumbs_dir / "1" / "000001.jpg").write_bytes(b"\xff\xd8\xff\xe0JPEGDATA")
    (data.thumbs_dir / "1" / "db-link.jpg").symlink_to(data.db_path)
    r = start(library, lambda: None)  # the real agent room, as app.py wires it (no question is asked)
    yield r, data
    r.close()
    library.close()


def _get(base: str, raw_path: str) -> httpx.Response:
    # Built by hand so that httpx does not normalise the dots or the encoding away.
    return httpx.get(base + "gradio_api/file=" + raw_path, timeout=10, follow_redirects=False)


def test_served_folder_works(running):
    r, data = running
    resp = _get(r.url, str(data.thumbs_dir / "1" / "000001.jpg"))
    assert resp.status_code == 200 and resp.content.endswith(b"JPEGDATA")  # the control: serving does work


def test_database_index_and_models_are_never_served(running):
    r, data = running
    thumbs, db = str(data.thumbs_dir), str(data.db_path)
    rel = "thumbs/../library.db"
    attempts = [
        db, db + "-wal", db + "-shm",
        str(data.index_dir / "manifest.json"), str(data.root / "models" / "weights.bin"),
        f"{thumbs}/../library.db", f"{thumbs}/1/../../library.db", f"{thumbs}/../index/manifest.json",
        urllib.parse.quote(db, safe=""), urllib.parse.quote(f"{thumbs}/../library.db", safe=""),
        f"{thumbs}/%2e%2e/library.db", f"{thumbs}/%2E%2E%2Flibrary.db", f"{thumbs}/..%2flibrary.db",
        f"{thumbs}/%252e%252e/library.db", f"{thumbs}/1/db-link.jpg",
        f"{thumbs}/1/%2e%2e%2f%2e%2e%2fmodels%2fweights.bin", rel, "../" * 12 + db.lstrip("/"),
        str(data.root), str(data.root) + "/",
    ]
    for a in attempts:
        resp = _get(r.url, a)
        assert resp.status_code >= 400, (a, resp.status_code)
        assert SQLITE_MAGIC not in resp.content and b"MODEL-BYTES" not in resp.content, a
        assert b"secret" not in resp.content, a


def test_hard_link_to_the_database_is_refused(running):
    r, data = running
    planted = data.uploads_dir / ("ab" * 8) / "x.mp4"
    os.link(data.db_path, planted)  # `ln DATA/library.db DATA/uploads/<sha>/x.mp4`
    stray = data.uploads_dir / "x.mp4"
    os.link(data.db_path, stray)
    unknown = data.thumbs_dir / "99"
    unknown.mkdir(exist_ok=True)
    (unknown / "a.jpg").write_bytes(b"\xff\xd8ORPHAN")  # a thumbnail of no video in the library
    try:
        for p in (planted, stray, unknown / "a.jpg"):
            resp = _get(r.url, str(p))
            assert resp.status_code == 403, (p, resp.status_code)
            assert SQLITE_MAGIC not in resp.content and b"ORPHAN" not in resp.content
        ok = _get(r.url, str(data.uploads_dir / ("ab" * 8) / "clip.mp4"))
        assert ok.status_code == 200 and ok.content == b"VIDEO"  # the library's own upload still plays
    finally:
        planted.unlink()
        stray.unlink()


def test_private_events_refused_from_outside(running):
    r, _ = running
    fns = r.demo.fns
    private = [i for i, f in fns.items() if f.api_visibility == "private" and f.fn is not None]
    public = [i for i, f in fns.items() if f.api_visibility == "public" and f.api_name == "library"]
    assert private and public
    body = {"data": [], "fn_index": private[0], "session_hash": "outsider1", "event_data": None}
    resp = httpx.post(r.url + "gradio_api/queue/join", json=body, timeout=10)
    assert resp.status_code == 403
    other_site = httpx.post(r.url + "gradio_api/queue/join", json=body, timeout=10,
                            headers={"Origin": "http://evil.example"})
    assert other_site.status_code == 403
    host = r.url.split("//", 1)[1].rstrip("/")
    page = httpx.post(r.url + "gradio_api/queue/join", json=body, timeout=10, headers={"Origin": f"http://{host}"})
    assert page.status_code == 200  # the page itself (same origin) still runs it
    named = httpx.post(r.url + "gradio_api/queue/join", timeout=10,
                       json={"data": [], "fn_index": public[0], "session_hash": "outsider2"})
    assert named.status_code == 200  # a public event stays callable by API clients


def test_refuses_public_address_without_auth(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for extra in (["--host", "0.0.0.0"], ["--host", "192.168.1.5"], ["--share"], ["--host", "::"]):
        proc = subprocess.run([sys.executable, str(ROOT / "app.py"), "--data-dir", str(tmp_path / "d"), *extra],
                              capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 2, (extra, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "refusing" in lines[0] and "--auth" in lines[0], proc.stderr
    assert not (tmp_path / "d").exists()  # refused before touching anything


def test_auth_rules():
    args = app_mod.parse_args(["--host", "0.0.0.0", "--auth", "ann:secret"])
    auth = app_mod.parse_auth(args)
    assert auth == [("ann", "secret")]
    app_mod.check_exposure(args, auth)  # allowed with a login
    assert app_mod.is_loopback("127.0.0.1") and app_mod.is_loopback("::1") and app_mod.is_loopback("localhost")
    assert not app_mod.is_loopback("0.0.0.0") and not app_mod.is_loopback("10.0.0.2")
    with pytest.raises(app_mod.UsageError, match="USER:PASS"):
        app_mod.parse_auth(app_mod.parse_args(["--auth", "nopassword"]))


def test_auth_file(tmp_path):
    f = tmp_path / "logins"
    f.write_text("# team\nann:one\n\nbob:two:with:colons\n")
    auth = app_mod.parse_auth(app_mod.parse_args(["--auth-file", str(f)]))
    assert auth == [("ann", "one"), ("bob", "two:with:colons")]
    f.write_text("# nothing\n")
    with pytest.raises(app_mod.UsageError, match="no USER:PASS"):
        app_mod.parse_auth(app_mod.parse_args(["--auth-file", str(f)]))


def test_login_guards_files(tmp_path):
    library = Library(tmp_path / "data", image_encoder=None)
    video = library.store.add_video("cd" * 32, "clip", str(tmp_path / "clip.mp4"), 9)
    thumb = library.data.thumbs_dir / str(video.id) / "x.jpg"
    thumb.parent.mkdir(parents=True)
    thumb.write_bytes(b"\xff\xd8JPEG")
    r = start(library, lambda: None, auth=[("ann", "secret")])
    try:
        assert _get(r.url, str(thumb)).status_code in (401, 403)
        with httpx.Client(base_url=r.url, timeout=10) as c:
            login = c.post("login", data={"username": "ann", "password": "secret"})
            assert login.status_code == 200
            assert c.get("gradio_api/file=" + str(thumb)).content == b"\xff\xd8JPEG"
    finally:
        r.close()
        library.close()
