"""The PACS image cache: each instance fetched once however many requests ask at the same time, and the folder kept
within its bound by dropping the least recently used images (never one just handed out)."""

import threading
import time

from ptxseg.serving.dicomweb.cache import InstanceCache


def test_concurrent_requests_fetch_an_instance_once(tmp_path):
    cache = InstanceCache(tmp_path, max_bytes=10_000)
    fetches = []

    def fetch():
        fetches.append(1)
        time.sleep(0.2)  # a slow PACS: every other request arrives while this one is fetching
        return b"x" * 100

    paths = []
    threads = [threading.Thread(target=lambda: paths.append(cache.get("1.2.3", fetch))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(fetches) == 1 and len(set(paths)) == 1 and paths[0].read_bytes() == b"x" * 100


def test_the_cache_stays_within_its_bound_least_recently_used_first(tmp_path):
    cache = InstanceCache(tmp_path, max_bytes=250, grace_s=0)
    for uid in ("1.1", "1.2"):
        cache.get(uid, lambda: b"x" * 100)
    time.sleep(0.05)
    cache.get("1.1", lambda: b"never fetched")  # used again: now 1.2 is the least recently used
    time.sleep(0.05)
    cache.get("1.3", lambda: b"x" * 100)

    assert sorted(path.stem for path in tmp_path.glob("*.dcm")) == ["1.1", "1.3"]
    assert cache.size_bytes() <= 250


def test_images_just_handed_out_are_kept_even_above_the_bound(tmp_path):
    cache = InstanceCache(tmp_path, max_bytes=150, grace_s=300)
    for uid in ("1.1", "1.2"):
        cache.get(uid, lambda: b"x" * 100)

    assert sorted(path.stem for path in tmp_path.glob("*.dcm")) == ["1.1", "1.2"]
