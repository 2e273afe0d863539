"""Downloading a data set into the cache folder, as torchvision and Keras do on first use.

Each file comes from the first URL that serves it whole: `$MINIDL_MIRROR/<data set>/<file>`
when MINIDL_MIRROR is set, then the data set's canonical URLs in turn. A file is written
to a temporary name in the cache folder, checked by SHA-256 and only then renamed, so a
failed, corrupt or interrupted download leaves nothing behind.
"""
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request

from .sources import SHA256, DataError, cache_folder

# Base URLs that hold a data set's files by their plain names, tried in this order.
CANONICAL = {
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion",
    ],
    "tinyshakespeare": ["https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare"],
    "rt-polarity": [],  # published only as a tar archive; the package ships a copy
}

TIMEOUT = 30  # seconds without a byte before a mirror is given up


def candidate_urls(name):
    """Where file `name` ("<data set>/<file>") may be fetched from, in order."""
    dataset, file_name = name.split("/", 1)
    urls = []
    mirror = os.environ.get("MINIDL_MIRROR")
    if mirror:
        urls.append(f"{mirror.rstrip('/')}/{name}")
    urls += [f"{base}/{file_name}" for base in CANONICAL.get(dataset, [])]
    return urls


def _fetch(url, target_dir, expected_sha256, label):
    """Download url into a temporary file in target_dir; its path once the checksum matches."""
    fd, temp = tempfile.mkstemp(prefix=".download-", dir=target_dir)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            from tqdm import tqdm

            with tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=None, leave=False) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        if digest.hexdigest() != expected_sha256:
            raise DataError(f"{url}: SHA-256 does not match (a damaged or different file)")
        return temp
    except BaseException:  # an error or Ctrl-C: nothing half-written stays in the cache
        os.unlink(temp)
        raise


def download(dataset, log=None):
    """Fetch every file of `dataset` that the cache folder lacks; returns the data set's folder.

    Raises DataError naming every URL tried and why it failed.
    """
    names = sorted(n for n in SHA256 if n.startswith(dataset + "/"))
    if not names:
        raise DataError(f"download: unknown data set {dataset!r}; known: {sorted({n.split('/')[0] for n in SHA256})}")
    folder = os.path.join(cache_folder(), dataset)
    os.makedirs(folder, exist_ok=True)
    for name in names:
        target = os.path.join(cache_folder(), name)
        if os.path.isfile(target):
            continue
        failures = []
        for url in candidate_urls(name):
            try:
                os.replace(_fetch(url, folder, SHA256[name], name), target)
                if log:
                    log(f"downloaded {name} from {url}")
                break
            except (OSError, http.client.HTTPException, DataError, ValueError) as exc:
                failures.append(f"{url}: {_reason(exc)}")
        else:
            tried = "; ".join(failures) if failures else "no URL known for it (set MINIDL_MIRROR)"
            raise DataError(f"{dataset}: could not download {name} ({tried}). When online, run "
                            f"`minidl data download {dataset}`, or put the files in {folder}")
    return folder


def _reason(exc):
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, http.client.IncompleteRead):
        return "the connection closed before the whole file arrived"
    return str(exc) or type(exc).__name__
