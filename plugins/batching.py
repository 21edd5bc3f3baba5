"""Concurrent requests share one forward pass: a small batcher behind an ordinary (unbatched) Gradio event.

A classifier answers 32 digits in one forward pass for little more than the price of one, so the hub gathers
concurrent requests into batches. Gradio's own batched events (`batch=True`) do that too, but they run a
batch's preprocessing and function as one call: one unreadable upload, or one input the function refuses,
fails every request that happened to share its batch (seen with gradio 6.31: a request "bad" turned its
batch-mates' answers into its error). Here each request stays its own event: it is checked and prepared
alone, and only the model's forward pass, which cannot fail on a prepared input, is shared. `Batcher` hands
whatever requests are waiting, up to `max_size`, to one worker thread, which runs on one intra-op thread: the
hub's parallelism is across requests, and a second core stays for other work.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Callable, Generic, TypeVar

import torch

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    """`batcher(item)` returns `function([item, ...])[index]`, with items of concurrent callers batched."""

    def __init__(self, function: Callable[[list[Item]], list[Result]], max_size: int = 32, name: str = "batcher"):
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        self.function, self.max_size, self.name = function, max_size, name
        self.waiting: queue.SimpleQueue[tuple[Item, Future]] = queue.SimpleQueue()
        self.started = threading.Lock()
        self.worker: threading.Thread | None = None
        self.batch_sizes: list[int] = []  # of the last batches run, newest last (at most 1,000 kept)

    def __call__(self, item: Item) -> Result:
        if self.worker is None:
            with self.started:
                if self.worker is None:
                    self.worker = threading.Thread(target=self._work, name=self.name, daemon=True)
                    self.worker.start()
        answer: Future = Future()
        self.waiting.put((item, answer))
        return answer.result()

    def _work(self) -> None:
        torch.set_num_threads(1)  # for this thread only, with PyTorch's OpenMP backend
        while True:
            batch = [self.waiting.get()]
            while len(batch) < self.max_size:
                try:
                    batch.append(self.waiting.get_nowait())
                except queue.Empty:
                    break
            self.batch_sizes = self.batch_sizes[-999:] + [len(batch)]
            try:
                results = self.function([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} requests")
            except BaseException as error:  # noqa: BLE001 - every caller of this batch gets the error
                for _, answer in batch:
                    answer.set_exception(error)
                continue
            for (_, answer), result in zip(batch, results):
                answer.set_result(result)
