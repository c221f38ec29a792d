"""Where archives come from: search order, downloads, verification, messages.

Downloads are served by a threaded ``http.server`` on 127.0.0.1 or read from
``file://`` URLs; nothing here reaches the internet. Every test runs with
``TRIPLETREC_DATA``, ``TRIPLETREC_MIRROR``, ``XDG_CACHE_HOME`` and ``HOME``
pointed at (or removed in favour of) folders under tmp_path.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import zipfile
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tripletrec import data as datasets
from tripletrec.data import (
    CorruptArchiveError,
    DatasetNotFoundError,
    DownloadError,
    describe_sources,
    fetch,
    locate,
    movielens,
    sources,
)

from .test_movielens_reader import FIXTURES, write_fixture, zip_bytes


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real data folder, no mirror, and a cache under tmp_path."""
    monkeypatch.delenv("TRIPLETREC_DATA", raising=False)
    monkeypatch.delenv("TRIPLETREC_MIRROR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "xdg" / "tripletrec"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404, "File not found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        announced = len(body) + (1000 if self.path.lstrip("/") in self.server.truncate else 0)
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A threaded HTTP server on 127.0.0.1: ``server.files[name] = bytes``."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files = {}
    httpd.truncate = set()
    httpd.requests = []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/movielens"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _serve(server, variant: str, body: bytes | None = None) -> bytes:
    body = zip_bytes(variant) if body is None else body
    server.files[f"movielens/{datasets.get_variant(variant).archive}"] = body
    return body


def _trust(monkeypatch, variant: str, body: bytes, **changes) -> None:
    """Make the registry's checksum the fixture archive's."""
    changes.setdefault("sha256", hashlib.sha256(body).hexdigest())
    monkeypatch.setitem(sources.VARIANTS, variant, replace(sources.VARIANTS[variant], **changes))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------ registry
def test_registry_entries_are_complete():
    assert list(datasets.VARIANTS) == [
        "ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-latest-small",
    ]  # fmt: skip
    for name, entry in datasets.VARIANTS.items():
        assert entry.name == name and entry.archive == f"{name}.zip"
        assert entry.sha256 is None or len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
        assert entry.md5 is None or len(entry.md5) == 32 and int(entry.md5, 16) >= 0
        assert entry.sha256 or entry.md5
        assert min(entry.n_ratings, entry.n_users, entry.n_movies) > 0
        assert entry.ratings_file in entry.required_files
    assert datasets.VARIANTS["ml-10m"].folder == "ml-10M100K"
    assert datasets.VARIANTS["ml-100k"].split_files("ua") == ("ua.base", "ua.test")


def test_unknown_variant():
    with pytest.raises(ValueError, match=r"variant must be one of ml-100k, .*; got 'ml-5k'"):
        locate("ml-5k")
    with pytest.raises(ValueError, match=r"variant must be one of"):
        describe_sources(["ml-5k"])


def test_default_cache_dir_follows_xdg_then_home(tmp_path, monkeypatch):
    assert datasets.default_cache_dir() == tmp_path / "xdg" / "tripletrec"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert datasets.default_cache_dir() == tmp_path / "home" / ".cache" / "tripletrec"


def test_archive_url_default_env_and_argument(monkeypatch):
    default = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
    assert datasets.archive_url("ml-100k") == default
    monkeypatch.setenv("TRIPLETREC_MIRROR", "http://mirror.example/ml/")
    assert datasets.archive_url("ml-1m") == "http://mirror.example/ml/ml-1m.zip"
    assert datasets.archive_url("ml-1m", "file:///data") == "file:///data/ml-1m.zip"


# ------------------------------------------------------------- search order
def test_explicit_path_forms(tmp_path):
    archive = write_fixture("ml-1m", tmp_path / "zips")
    renamed = archive.rename(tmp_path / "zips" / "my-copy.zip")
    folder = write_fixture("ml-1m", tmp_path / "extracted", as_zip=False)
    write_fixture("ml-1m", tmp_path / "holds-zip")
    cases = {
        renamed: (renamed, True),
        folder: (folder, False),
        tmp_path / "holds-zip": (tmp_path / "holds-zip" / "ml-1m.zip", True),
        tmp_path / "extracted": (folder, False),
    }
    for given, (found, is_zip) in cases.items():
        location = locate("ml-1m", given)
        assert (location.path, location.is_zip, location.origin) == (found, is_zip, "path")
    assert locate("ml-1m", renamed).member_prefix == "ml-1m/"


def test_extracted_ml10m_folder_name_and_variant_name(tmp_path, monkeypatch):
    folder = write_fixture("ml-10m", tmp_path / "data", as_zip=False)
    assert folder.name == "ml-10M100K"
    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path / "data"))
    assert locate("ml-10m", download=False).path == folder
    folder.rename(tmp_path / "data" / "ml-10m")
    assert locate("ml-10m", download=False).path == tmp_path / "data" / "ml-10m"


def test_environment_folder_comes_before_the_cache(tmp_path, monkeypatch, cache):
    in_cache = write_fixture("ml-1m", cache)
    in_env = write_fixture("ml-1m", tmp_path / "env")
    assert locate("ml-1m", download=False).origin == "cache"
    both = os.pathsep.join([str(tmp_path / "empty"), str(tmp_path / "env")])
    monkeypatch.setenv("TRIPLETREC_DATA", both)
    location = locate("ml-1m", download=False)
    assert (location.path, location.origin) == (in_env, "TRIPLETREC_DATA")
    in_env.unlink()
    assert locate("ml-1m", download=False).path == in_cache


def test_explicit_path_is_the_only_place_looked_at(tmp_path, monkeypatch):
    write_fixture("ml-1m", tmp_path / "env")
    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path / "env"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError) as caught:
        locate("ml-1m", tmp_path / "empty")
    message = str(caught.value)
    empty = tmp_path / "empty"
    assert message.startswith(f"MovieLens ml-1m not found in path='{empty}': looked for ")
    assert str(tmp_path / "empty" / "ml-1m.zip") in message
    assert str(tmp_path / "empty" / "ratings.dat") in message
    assert "env" not in message


def test_explicit_path_that_does_not_exist(tmp_path):
    with pytest.raises(
        DatasetNotFoundError,
        match=r"MovieLens ml-20m: path='.*nowhere' does not exist \(give a ml-20m\.zip file, "
        r"an extracted ml-20m folder or a folder holding one\)",
    ):
        movielens("ml-20m", path=tmp_path / "nowhere")


def test_not_found_without_download_names_every_place(tmp_path, monkeypatch, cache):
    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path / "env"))
    with pytest.raises(DatasetNotFoundError) as caught:
        movielens("ml-1m", download=False)
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert message.startswith("MovieLens ml-1m (ml-1m.zip or an extracted ml-1m/ folder) not found.")
    assert f"TRIPLETREC_DATA={tmp_path / 'env'} (no ml-1m.zip, ml-1m/)" in message
    assert f"cache {cache} (no ml-1m.zip, ml-1m/)" in message
    assert "download=False" in message
    monkeypatch.delenv("TRIPLETREC_DATA")
    with pytest.raises(DatasetNotFoundError, match=r"Searched:\n  - TRIPLETREC_DATA \(not set\)\n  - cache "):
        movielens("ml-1m", download=False)
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in message
    assert not cache.exists()


def test_offline_message_adds_the_download_error(tmp_path, monkeypatch, cache):
    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path / "env"))
    port = _closed_port()
    with pytest.raises(DatasetNotFoundError) as caught:
        movielens("ml-10m", base_url=f"http://127.0.0.1:{port}", progress=False)
    message = str(caught.value)
    assert "MovieLens ml-10m (ml-10m.zip or an extracted ml-10M100K/ folder) not found." in message
    assert f"TRIPLETREC_DATA={tmp_path / 'env'} (no ml-10m.zip, ml-10M100K/, ml-10m/)" in message
    assert f"cache {cache} (no" in message
    assert f"download from http://127.0.0.1:{port}/ml-10m.zip failed: " in message
    assert "refused" in message.lower()
    assert list(cache.iterdir()) == []


def test_http_404_is_reported(server, cache):
    with pytest.raises(
        DatasetNotFoundError,
        match=r"download from http://127\.0\.0\.1:\d+/movielens/ml-1m\.zip failed: "
        r"HTTP 404 File not found",
    ):
        locate("ml-1m", base_url=server.url, progress=False)
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch("ml-1m", base_url=server.url, progress=False)
    assert list(cache.iterdir()) == []


# ----------------------------------------------------------------- download
def test_download_verifies_and_then_the_cache_is_used(server, monkeypatch, cache, capsys):
    body = _serve(server, "ml-latest-small")
    _trust(monkeypatch, "ml-latest-small", body)
    data = movielens("ml-latest-small", base_url=server.url, strict=False)
    assert data.source == str(cache / "ml-latest-small.zip")
    assert (cache / "ml-latest-small.zip").read_bytes() == body
    assert sorted(p.name for p in cache.iterdir()) == ["ml-latest-small.zip"]
    assert "Downloading ml-latest-small.zip" in capsys.readouterr().err
    assert len(server.requests) == 1
    again = locate("ml-latest-small", base_url=server.url)
    assert again.origin == "cache" and len(server.requests) == 1


def test_download_progress_can_be_silenced(server, monkeypatch, cache, capsys):
    body = _serve(server, "ml-1m")
    digest = hashlib.sha256(body).hexdigest()
    path = fetch("ml-1m", base_url=server.url, sha256=digest, progress=False)
    assert path == cache / "ml-1m.zip" and path.read_bytes() == body
    assert capsys.readouterr().err == ""


def test_mirror_environment_variable(server, monkeypatch, cache):
    body = _serve(server, "ml-25m")
    _trust(monkeypatch, "ml-25m", body)
    monkeypatch.setenv("TRIPLETREC_MIRROR", server.url)
    location = locate("ml-25m", progress=False)
    assert location.origin == "download" and location.path == cache / "ml-25m.zip"
    assert server.requests == ["/movielens/ml-25m.zip"]


def test_file_url_download(tmp_path, monkeypatch):
    served = write_fixture("ml-20m", tmp_path / "mirror")
    body = served.read_bytes()
    _trust(monkeypatch, "ml-20m", body)
    custom_cache = tmp_path / "custom-cache"
    data = movielens(
        "ml-20m",
        base_url=(tmp_path / "mirror").as_uri(),
        cache_dir=custom_cache,
        progress=False,
        strict=False,
    )
    assert data.source == str(custom_cache / "ml-20m.zip")
    assert len(data.interactions) == 6


def test_md5_is_used_where_no_sha256_is_published(server, monkeypatch, cache):
    body = _serve(server, "ml-10m")
    assert sources.VARIANTS["ml-10m"].sha256 is None
    _trust(monkeypatch, "ml-10m", body, sha256=None, md5=hashlib.md5(body).hexdigest())
    assert fetch("ml-10m", base_url=server.url, progress=False).read_bytes() == body
    (cache / "ml-10m.zip").unlink()
    _trust(monkeypatch, "ml-10m", body, sha256=None, md5="0" * 32)
    with pytest.raises(CorruptArchiveError, match=r"has md5 [0-9a-f]{32}, expected 0{32}"):
        fetch("ml-10m", base_url=server.url, progress=False)
    assert list(cache.iterdir()) == []


def test_no_known_checksum_refuses_to_download(monkeypatch, server):
    _trust(monkeypatch, "ml-10m", b"", sha256=None, md5=None)
    with pytest.raises(
        CorruptArchiveError,
        match=r"ml-10m: no published checksum is known, so a download cannot be verified",
    ):
        fetch("ml-10m", base_url=server.url, progress=False)
    assert server.requests == []


def test_wrong_hash_leaves_nothing(server, cache):
    body = _serve(server, "ml-1m")
    official = sources.VARIANTS["ml-1m"].sha256
    with pytest.raises(
        CorruptArchiveError,
        match=rf"download of {re.escape(server.url)}/ml-1m\.zip has sha256 "
        rf"{hashlib.sha256(body).hexdigest()}, expected {official}: the file is corrupt or is "
        "not the official archive; nothing was saved",
    ):
        locate("ml-1m", base_url=server.url, progress=False)
    assert list(cache.iterdir()) == []


def test_truncated_download_leaves_nothing(server, monkeypatch, cache):
    body = _serve(server, "ml-1m")
    _trust(monkeypatch, "ml-1m", body)
    server.truncate.add("movielens/ml-1m.zip")
    with pytest.raises(
        CorruptArchiveError,
        match=rf"download of {re.escape(server.url)}/ml-1m\.zip is truncated: got "
        rf"{len(body):,} of {len(body) + 1000:,} bytes; nothing was saved",
    ):
        locate("ml-1m", base_url=server.url, progress=False)
    assert list(cache.iterdir()) == []


class _BreakingResponse:
    """A response that sends one block, then fails the way ``failure`` says."""

    def __init__(self, failure: BaseException):
        self.headers = {"Content-Length": "100000"}
        self.failure = failure
        self.sent = False

    def read(self, size: int) -> bytes:
        if self.sent:
            raise self.failure
        self.sent = True
        return b"PK" * 500

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize(
    "failure, expected, message",
    [
        (
            ConnectionResetError(104, "Connection reset by peer"),
            CorruptArchiveError,
            r"download of .*/ml-1m\.zip broke off after 1,000 bytes \(\[Errno 104\] Connection "
            r"reset by peer\); nothing was saved",
        ),
        (KeyboardInterrupt(), KeyboardInterrupt, None),
    ],
)
def test_interrupted_download_leaves_nothing(monkeypatch, cache, failure, expected, message):
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _BreakingResponse(failure))
    with pytest.raises(expected, match=message):
        fetch("ml-1m", base_url="http://mirror.test", progress=False)
    assert list(cache.iterdir()) == []


def test_download_that_is_not_a_zip_leaves_nothing(server, cache):
    body = _serve(server, "ml-1m", b"<html>not an archive</html>")
    with pytest.raises(
        CorruptArchiveError,
        match=rf"download of {re.escape(server.url)}/ml-1m\.zip is not a readable zip archive",
    ):
        fetch("ml-1m", base_url=server.url, sha256=hashlib.sha256(body).hexdigest(), progress=False)
    assert list(cache.iterdir()) == []


def test_download_of_the_wrong_archive_leaves_nothing(server, cache):
    body = _serve(server, "ml-1m", zip_bytes("ml-20m"))
    with pytest.raises(
        CorruptArchiveError,
        match=rf"download of {re.escape(server.url)}/ml-1m\.zip holds no ratings\.dat",
    ):
        fetch("ml-1m", base_url=server.url, sha256=hashlib.sha256(body).hexdigest(), progress=False)
    assert list(cache.iterdir()) == []


def test_failure_while_moving_into_place_leaves_nothing(server, monkeypatch, cache):
    body = _serve(server, "ml-1m")

    def refuse(source, target):
        raise PermissionError(f"cannot write {target}")

    monkeypatch.setattr(sources.os, "replace", refuse)
    with pytest.raises(PermissionError, match="cannot write"):
        fetch("ml-1m", base_url=server.url, sha256=hashlib.sha256(body).hexdigest(), progress=False)
    assert list(cache.iterdir()) == []


# ------------------------------------------------------ user-supplied copies
def test_user_file_that_is_not_a_zip(tmp_path):
    bogus = tmp_path / "ml-1m.zip"
    bogus.write_text("userId,movieId\n")
    with pytest.raises(
        CorruptArchiveError,
        match=rf"{re.escape(str(bogus))} is not a readable zip archive \(File is not a zip file\)",
    ):
        movielens("ml-1m", path=bogus)


def test_truncated_user_zip(tmp_path, monkeypatch):
    whole = zip_bytes("ml-1m")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "ml-1m.zip").write_bytes(whole[: len(whole) // 2])
    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path / "env"))
    with pytest.raises(CorruptArchiveError, match=r"ml-1m\.zip is not a readable zip archive"):
        movielens("ml-1m")


def test_damaged_member_is_reported_when_read(tmp_path):
    # Digits that do not repeat compress poorly, so the damage lands in data.
    rows = "".join(f"{u}::{u * 7 % 1000 + 1}::{u % 5 + 1}::{978300760 + u * 13}\n" for u in range(1, 3000))
    files = dict(FIXTURES["ml-1m"], **{"ratings.dat": rows.encode()})
    path = write_fixture("ml-1m", tmp_path, files=files)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("ml-1m/ratings.dat")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    raw[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(raw))
    with pytest.raises(
        CorruptArchiveError,
        match=r"ml-1m\.zip:ml-1m/ratings\.dat cannot be read \(.*\): the archive is damaged "
        "or truncated",
    ):
        movielens("ml-1m", path=path, strict=False)


def test_user_zip_missing_files(tmp_path):
    files = {k: v for k, v in FIXTURES["ml-1m"].items() if k != "movies.dat"}
    path = write_fixture("ml-1m", tmp_path, files=files)
    with pytest.raises(
        CorruptArchiveError,
        match=rf"{re.escape(str(path))} lacks ml-1m/movies\.dat: a ml-1m archive needs "
        r"ratings\.dat, movies\.dat, users\.dat",
    ):
        movielens("ml-1m", path=path)


def test_user_zip_of_another_variant(tmp_path):
    path = write_fixture("ml-20m", tmp_path)
    with pytest.raises(
        CorruptArchiveError,
        match=rf"{re.escape(str(path))} holds no ratings\.dat: it is not a MovieLens ml-1m archive",
    ):
        movielens("ml-1m", path=path)


def test_extracted_folder_missing_files(tmp_path):
    files = {k: v for k, v in FIXTURES["ml-25m"].items() if k != "movies.csv"}
    folder = write_fixture("ml-25m", tmp_path, as_zip=False, files=files)
    with pytest.raises(
        CorruptArchiveError,
        match=rf"{re.escape(str(folder))} lacks movies\.csv: an extracted ml-25m folder needs "
        r"ratings\.csv, movies\.csv",
    ):
        movielens("ml-25m", path=folder)


# ----------------------------------------------------------------- describe
def test_describe_sources_reports_every_variant(tmp_path, monkeypatch, cache):
    monkeypatch.setenv("TRIPLETREC_DATA", str(tmp_path / "env"))
    write_fixture("ml-1m", tmp_path / "env")
    write_fixture("ml-20m", cache, as_zip=False)
    (cache / "ml-25m.zip").write_bytes(b"garbage")
    report = {info.variant: info for info in describe_sources(base_url="http://mirror.test/ml")}
    assert list(report) == list(datasets.VARIANTS)

    assert report["ml-1m"].status == "found" and report["ml-1m"].origin == "TRIPLETREC_DATA"
    assert report["ml-1m"].location == str(tmp_path / "env" / "ml-1m.zip")
    env_copy = tmp_path / "env" / "ml-1m.zip"
    assert str(report["ml-1m"]) == f"ml-1m: found in TRIPLETREC_DATA: {env_copy}"

    assert (report["ml-20m"].status, report["ml-20m"].origin) == ("found", "cache")
    assert report["ml-20m"].location == str(cache / "ml-20m")

    assert (report["ml-25m"].status, report["ml-25m"].origin) == ("broken", "cache")
    assert report["ml-25m"].location == str(cache / "ml-25m.zip")
    assert "not a readable zip archive" in report["ml-25m"].detail
    assert str(report["ml-25m"]).startswith(f"ml-25m: unreadable copy at {cache / 'ml-25m.zip'}: ")

    missing = report["ml-100k"]
    assert (missing.status, missing.origin) == ("download", "download")
    assert missing.location == str(cache / "ml-100k.zip")
    assert missing.url == "http://mirror.test/ml/ml-100k.zip"
    assert str(missing) == (
        f"ml-100k: not found; would download http://mirror.test/ml/ml-100k.zip to {cache / 'ml-100k.zip'}"
    )
    assert not (cache / "ml-100k.zip").exists()
