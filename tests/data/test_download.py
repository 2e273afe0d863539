"""Downloads from mirrors served on 127.0.0.1 only: a good file, a corrupt one, a 404 that falls
back to the next mirror, a connection cut mid-file. Nothing is left behind in the cache on failure."""
import hashlib
import http.server
import os
import threading

import pytest

from minidl import data
from minidl.data import download as dl
from minidl.data import sources

GOOD = b"minidl test data set\n" * 5000  # ~100 KB: several blocks of the reader


class _Handler(http.server.BaseHTTPRequestHandler):
    files = {}  # path -> bytes, or "cut" to send half the bytes of GOOD and close

    def do_GET(self):  # noqa: N802 (the http.server API)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        cut = body == "cut"
        payload = GOOD[: len(GOOD) // 2] if cut else body
        self.send_response(200)
        self.send_header("Content-Length", str(len(GOOD) if cut else len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        if cut:
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.files = {}
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.files
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A one-file data set 'tiny', an empty cache, and no canonical URLs: only the test's mirrors."""
    monkeypatch.setitem(sources.SHA256, "tiny/a.bin", hashlib.sha256(GOOD).hexdigest())
    monkeypatch.setitem(sources.ORIGIN, "tiny", "a test data set")
    monkeypatch.setitem(sources.LICENSE, "tiny", "test")
    monkeypatch.setattr(dl, "CANONICAL", {})
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _left_in(folder):
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_a_good_download_lands_checked_in_the_cache(server, tiny, monkeypatch):
    base, files = server
    files["/tiny/a.bin"] = GOOD
    monkeypatch.setenv("MINIDL_MIRROR", base)
    folder = dl.download("tiny")
    assert open(os.path.join(folder, "a.bin"), "rb").read() == GOOD
    assert _left_in(tiny / "tiny") == ["a.bin"]
    assert data.locate("tiny") == folder


def test_a_corrupt_file_is_refused_and_nothing_stays(server, tiny, monkeypatch):
    base, files = server
    files["/tiny/a.bin"] = GOOD[:-1] + b"?"
    monkeypatch.setenv("MINIDL_MIRROR", base)
    with pytest.raises(data.DataError, match="SHA-256 does not match"):
        dl.download("tiny")
    assert _left_in(tiny / "tiny") == []


def test_a_404_falls_back_to_the_next_mirror(server, tiny, monkeypatch):
    base, files = server
    files["/second/a.bin"] = GOOD
    monkeypatch.setenv("MINIDL_MIRROR", base)  # serves 404 for /tiny/a.bin
    monkeypatch.setattr(dl, "CANONICAL", {"tiny": [f"{base}/second"]})
    logged = []
    dl.download("tiny", log=logged.append)
    assert logged == [f"downloaded tiny/a.bin from {base}/second/a.bin"]
    assert _left_in(tiny / "tiny") == ["a.bin"]


def test_a_connection_cut_mid_file_leaves_nothing(server, tiny, monkeypatch):
    base, files = server
    files["/tiny/a.bin"] = "cut"
    monkeypatch.setenv("MINIDL_MIRROR", base)
    with pytest.raises(data.DataError, match="could not download tiny/a.bin") as err:
        dl.download("tiny")
    assert base in str(err.value) and "minidl data download tiny" in str(err.value)
    assert _left_in(tiny / "tiny") == []


def test_with_no_url_the_error_says_how_to_get_the_data(tiny):
    with pytest.raises(data.DataError, match="no URL known for it"):
        dl.download("tiny")


def test_the_mirror_comes_first_then_the_canonical_urls(monkeypatch):
    monkeypatch.setattr(dl, "CANONICAL", {"fashion-mnist": ["http://127.0.0.1:8/a", "http://127.0.0.1:8/b"]})
    monkeypatch.setenv("MINIDL_MIRROR", "http://127.0.0.1:9/")
    assert dl.candidate_urls("fashion-mnist/t10k-labels-idx1-ubyte.gz") == [
        "http://127.0.0.1:9/fashion-mnist/t10k-labels-idx1-ubyte.gz",
        "http://127.0.0.1:8/a/t10k-labels-idx1-ubyte.gz",
        "http://127.0.0.1:8/b/t10k-labels-idx1-ubyte.gz",
    ]


def test_every_data_set_that_does_not_ship_has_canonical_urls():
    import importlib

    canonical = importlib.reload(dl).CANONICAL  # the module's own list, not the tests' empty one
    for row in data.list_datasets():
        assert row["name"] in canonical
        assert canonical[row["name"]] or data.is_bundled(row["name"]), row["name"]


def test_loading_a_missing_data_set_downloads_it(server, tiny, monkeypatch):
    base, files = server
    files["/tiny/a.bin"] = GOOD
    monkeypatch.setenv("MINIDL_MIRROR", base)
    assert sources.locate_or_download("tiny") == str(tiny / "tiny")


def test_the_data_command_lists_and_downloads(server, tiny, monkeypatch, capsys):
    from minidl import cli

    base, files = server
    files["/tiny/a.bin"] = GOOD
    monkeypatch.setenv("MINIDL_MIRROR", base)
    assert cli.main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "tinyshakespeare" in listing and "inside the package" in listing and "MIT" in listing
    assert cli.main(["data", "download", "tiny"]) == 0  # the parser is built after "tiny" was added
    assert "tiny: downloaded to" in capsys.readouterr().out
    assert open(tiny / "tiny" / "a.bin", "rb").read() == GOOD
    assert cli.main(["data", "download", "tiny"]) == 0
    assert "tiny: already in" in capsys.readouterr().out
