"""Chainer's repeating, shuffled minibatch order as a deterministic, resumable iterator."""

import dataclasses

import numpy as np


@dataclasses.dataclass
class EpochIterator:
    """Index batches in Chainer's SerialIterator/MultiprocessIterator order (repeat=True).

    Each epoch visits every index once, in a fresh permutation when `shuffle`; a batch that
    reaches the end of an epoch is filled up from the start of the next epoch's order
    (Chainer's `rest = i_end - N`). The permutation of epoch e is a pure function of
    (seed, e), so the stream is fixed by the seed and `state_dict()` (epoch, position,
    iteration) is all a resumed run needs.
    """

    size: int
    batch_size: int
    seed: int
    shuffle: bool = True
    epoch: int = 0
    position: int = 0  # index into the current epoch's order
    iteration: int = 0  # batches drawn so far
    is_new_epoch: bool = False  # the last batch finished an epoch
    _cached: tuple[int, np.ndarray] | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.size < 1 or self.batch_size < 1:
            raise ValueError(f"EpochIterator needs size >= 1 and batch_size >= 1, got {self.size}, {self.batch_size}")

    def order(self, epoch: int) -> np.ndarray:
        """The visiting order of `epoch`: a permutation of range(size) (identity without shuffle)."""
        if not self.shuffle:
            return np.arange(self.size)
        if self._cached is None or self._cached[0] != epoch:
            self._cached = (epoch, np.random.default_rng([self.seed, epoch]).permutation(self.size))
        return self._cached[1]

    @property
    def epoch_detail(self) -> float:
        """Epochs done, fractional: Chainer's `epoch + current_position / N`."""
        return self.epoch + self.position / self.size

    def __iter__(self) -> "EpochIterator":
        return self

    def __next__(self) -> np.ndarray:
        """The next batch of `batch_size` indices."""
        start_epoch = self.epoch
        parts = []
        needed = self.batch_size
        while needed:
            take = min(needed, self.size - self.position)
            parts.append(self.order(self.epoch)[self.position:self.position + take])
            self.position += take
            needed -= take
            if self.position == self.size:
                self.epoch, self.position = self.epoch + 1, 0
        self.iteration += 1
        self.is_new_epoch = self.epoch != start_epoch
        return np.concatenate(parts)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "iteration": self.iteration,
                "is_new_epoch": int(self.is_new_epoch)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.iteration, self.is_new_epoch = int(state["iteration"]), bool(state["is_new_epoch"])


def sequential_batches(size: int, batch_size: int) -> list[np.ndarray]:
    """One pass in order, the last batch short (Chainer's iterator with repeat=False, no shuffle)."""
    return [np.arange(start, min(start + batch_size, size)) for start in range(0, size, batch_size)]
