"""Batches whose files are read while the previous batch is computed: decode overlapped with the forward pass.

Reading a 1024x1024 DICOM (JPEG decoding, windowing) takes tens of milliseconds of CPU that the decoders spend
mostly outside the GIL, so one reader thread keeps the network busy instead of idle between batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ptxseg.image import CXRReadError

__all__ = ["prefetched_batches"]

Item = TypeVar("Item")
Loaded = TypeVar("Loaded")


def _load_batch(batch: Sequence[Item], load: Callable[[Item], Loaded]) -> list[Loaded | CXRReadError]:
    loaded: list[Loaded | CXRReadError] = []
    for item in batch:
        try:
            loaded.append(load(item))
        except CXRReadError as error:  # an unreadable file is a result for its row, not the end of the run
            loaded.append(error)
    return loaded


def prefetched_batches(
    items: Sequence[Item], batch_size: int, load: Callable[[Item], Loaded]
) -> Iterator[tuple[list[Item], list[Loaded | CXRReadError]]]:
    """Yield ``(batch, loaded)`` pairs in order; the next batch loads in a thread while the caller works on this one.

    ``loaded[i]`` is ``load(batch[i])``, or the ``CXRReadError`` it raised.

    Example:
        >>> [loaded for _, loaded in prefetched_batches([1, 2, 3], 2, lambda x: x * 10)]
        [[10, 20], [30]]
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    batches = [list(items[start : start + batch_size]) for start in range(0, len(items), batch_size)]
    if not batches:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptxseg-prefetch") as reader:
        pending = reader.submit(_load_batch, batches[0], load)
        for index, batch in enumerate(batches):
            loaded = pending.result()
            if index + 1 < len(batches):
                pending = reader.submit(_load_batch, batches[index + 1], load)
            yield batch, loaded
