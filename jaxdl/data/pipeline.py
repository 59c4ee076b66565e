"""An input pipeline that keeps an accelerator fed: batches loaded ahead by a worker pool, put on the device ahead.

    loader = ImageListLoader(examples, root, mean, crop_size=227, seed=0)  # picklable: (indices, iteration) -> batch
    for images, labels in prefetch(loader, requests, workers=2, kind="thread", depth=4, put=jax.device_put):
        state, metrics = train_step(state, Batch(images, labels))

`requests` yields (indices, iteration) pairs in training order (train_imagenet's EpochIterator
gives them); `prefetch` keeps `depth` of them loading in the pool at once, one whole batch per
worker task, and yields them in request order. `put` (e.g. jax.device_put with a batch sharding)
is applied `device_depth` batches ahead of the consumer: the copy to the device is queued while
the previous step runs (device_put returns before the copy ends), so it overlaps the step.

kind "thread" runs the loader in threads of this process: PIL's decode and NumPy's crop, flip
and mean subtraction release the GIL. kind "process" runs it in worker processes (spawned, not
forked: the parent holds JAX's threads; a worker imports jaxdl.data.imagelist, hence JAX's Python
modules, but starts no backend); each batch then crosses a pipe (B x crop x crop x C float32,
pickled). The benchmark
(`python -m experiments.benchmark --input pipeline`) measures both and reports which is faster on
the machine; threads are the default (see results/BENCHMARKS.md for the measurement).
"""

import collections
import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from jaxdl.data.imagelist import (
    Example,
    center_crop,
    chainer_random_crop,
    crop_and_normalize,
    read_image,
)

KINDS = ("thread", "process")
Request = tuple[np.ndarray, int]  # (example indices of the batch, iteration)


def augmentation_rngs(seed: int, iteration: int, batch_size: int) -> list[np.random.Generator]:
    """One generator per example of the batch drawn at `iteration`: crops are a function of
    (seed, iteration, slot), whichever worker loads the batch (train_imagenet's convention)."""
    return [np.random.default_rng([seed, iteration, slot]) for slot in range(batch_size)]


class ImageListLoader:
    """Loads one training batch of an image list as train_imagenet preprocesses it (decode, random
    crop and flip, mean subtraction, 1/255), in the calling thread; picklable, so worker processes
    can hold one. `train=False` takes the centre crop, no flip."""

    def __init__(self, examples: Sequence[Example], root: str | os.PathLike, mean: np.ndarray, crop_size: int,
                 seed: int = 0, train: bool = True):
        self.paths = [os.path.join(root, example.path) for example in examples]
        self.labels = np.array([example.label for example in examples], np.int32)
        self.mean, self.crop_size, self.seed, self.train = mean, crop_size, seed, train

    def __len__(self) -> int:
        return len(self.paths)

    def __call__(self, indices: np.ndarray, iteration: int) -> tuple[np.ndarray, np.ndarray]:
        """(images (B, crop, crop, C) float32, labels (B,) int32) of the examples `indices`."""
        rngs = augmentation_rngs(self.seed, iteration, len(indices)) if self.train else [None] * len(indices)
        out = np.empty((len(indices), self.crop_size, self.crop_size, self.mean.shape[-1]), np.float32)
        for slot, (index, rng) in enumerate(zip(indices, rngs, strict=True)):
            image = read_image(self.paths[index])
            height, width = image.shape[:2]
            if rng is None:
                top, left, flip = *center_crop(height, width, self.crop_size), False
            else:
                top, left, flip = chainer_random_crop(rng, height, width, self.crop_size)
            out[slot] = crop_and_normalize(image, self.mean, top, left, self.crop_size, flip)
        return out, self.labels[indices]


_WORKER_LOADER: Any = None


def _init_worker(loader: Callable[[np.ndarray, int], Any]) -> None:
    global _WORKER_LOADER
    _WORKER_LOADER = loader


def _load_in_worker(indices: np.ndarray, iteration: int) -> Any:
    return _WORKER_LOADER(indices, iteration)


def make_pool(loader: Callable[[np.ndarray, int], Any], workers: int, kind: str = "thread"
              ) -> tuple[concurrent.futures.Executor, Callable[[np.ndarray, int], concurrent.futures.Future]]:
    """(executor, submit): submit(indices, iteration) returns a future of loader(indices, iteration)
    run by one of `workers` threads or spawned processes (each process gets a copy of `loader`)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if kind == "thread":
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        return pool, lambda indices, iteration: pool.submit(loader, indices, iteration)
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_init_worker, initargs=(loader,))
    return pool, lambda indices, iteration: pool.submit(_load_in_worker, indices, iteration)


def prefetch(loader: Callable[[np.ndarray, int], Any], requests: Iterable[Request], workers: int = 2,
             kind: str = "thread", depth: int = 4, put: Callable[[Any], Any] | None = None,
             device_depth: int = 2) -> Iterator[Any]:
    """The loaded batches of `requests`, in order, loaded `depth` ahead by the pool and passed through
    `put` (e.g. jax.device_put) `device_depth` ahead of the consumer. The pool shuts down when the
    iterator is exhausted or closed."""
    if depth < 1 or device_depth < 1:
        raise ValueError(f"depth and device_depth must be >= 1, got {depth} and {device_depth}")
    pool, submit = make_pool(loader, workers, kind)
    requests = iter(requests)
    loading: collections.deque = collections.deque()
    on_device: collections.deque = collections.deque()
    try:
        for request in requests:
            loading.append(submit(*request))
            if len(loading) >= depth:
                break
        while loading or on_device:
            while loading and len(on_device) < device_depth:
                batch = loading.popleft().result()
                on_device.append(put(batch) if put else batch)
                for request in requests:
                    loading.append(submit(*request))
                    break
            yield on_device.popleft()
    finally:
        for future in loading:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
