"""The inference queue on its own: batching, caps, failure isolation, positions, shutdown."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
import torch

from bot.backends import LocalBackend
from bot.queue import DrawTimeout, InferenceQueue, QueueFull, ShuttingDown, UserBusy


def make_queue(faces, fail_on: torch.Tensor | None = None, **kw) -> InferenceQueue:
    def decode(z: torch.Tensor) -> np.ndarray:
        if fail_on is not None and any(torch.equal(row, fail_on) for row in z):
            raise RuntimeError("boom")
        return faces.decode(z)

    return InferenceQueue(LocalBackend(decode), **kw)


async def test_requests_arriving_together_share_a_batch(faces):
    q = make_queue(faces, window_ms=50, max_batch=32, per_user=5)
    tickets = [q.submit(faces.latent([s]), user_id=s) for s in range(5)]
    results = await asyncio.gather(*(t.future for t in tickets))
    assert q.batches == 1 and q.images == 5
    for s, images in enumerate(results):
        assert np.abs(images.astype(int) - faces.render([s]).astype(int)).max() <= 1


async def test_requests_with_the_same_edits_share_one_edit_call(regional_faces):
    faces, calls = regional_faces, []

    def edit(z, edits):
        calls.append((len(z), dict(edits)))
        return faces.sliders.drawing(z, edits)

    q = make_queue(faces, window_ms=50, max_batch=32, per_user=5, edit=edit)
    asks = [{"smiling": 2.0, "glasses": "on"}, {}, {"smiling": 2.0, "glasses": "on"}, {"age": -1.5}, {"beard": 2.0}]
    tickets = [q.submit(faces.latent([s, s + 100]), s, edits) for s, edits in enumerate(asks)]
    results = await asyncio.gather(*(t.future for t in tickets))
    assert q.batches == 1, "plain latents and regional drawings share a batch"
    assert sorted(calls, key=lambda c: (c[0], str(c[1]))) == [
        (2, {"age": -1.5}),
        (2, {"beard": 2.0}),
        (4, {"smiling": 2.0, "glasses": "on"}),
    ]
    for s, (edits, images) in enumerate(zip(asks, results, strict=True)):
        alone = faces.decode(faces.edit(faces.latent([s, s + 100]), edits))
        assert np.abs(images.astype(int) - alone.astype(int)).max() <= 1, f"request {s} drawn as it would be alone"
    with pytest.raises(ValueError, match="unedited"):
        make_queue(faces).submit(faces.latent([1]), 1, {"smiling": 1.0})


async def test_batch_cap_and_batching_off(faces):
    q = make_queue(faces, window_ms=50, max_batch=4)
    await asyncio.gather(*(q.submit(faces.latent([s]), user_id=s).future for s in range(6)))
    assert q.batches == 2
    q = make_queue(faces, batching=False)
    await asyncio.gather(*(q.submit(faces.latent([s]), user_id=s).future for s in range(3)))
    assert q.batches == 3


async def test_a_failing_request_does_not_sink_its_batch(faces):
    bad = faces.latent([13])[0]
    q = make_queue(faces, fail_on=bad, window_ms=50)
    good1, failing, good2 = (q.submit(faces.latent([s]), user_id=s) for s in (1, 13, 2))
    with pytest.raises(RuntimeError, match="boom"):
        await failing.future
    assert (await good1.future).shape == (1, 64, 64, 3) and (await good2.future).shape == (1, 64, 64, 3)
    after = q.submit(faces.latent([3]), user_id=3)
    assert (await after.future).shape == (1, 64, 64, 3), "the worker goes on"


async def test_admission_limits_and_positions(faces):
    q = make_queue(faces, window_ms=50, max_depth=3, per_user=2)
    a1, a2 = q.submit(faces.latent([1]), 1), q.submit(faces.latent([2]), 1)
    with pytest.raises(UserBusy, match="already have 2"):
        q.submit(faces.latent([3]), 1)
    b = q.submit(faces.latent([4]), 2)
    with pytest.raises(QueueFull, match="busy"):
        q.submit(faces.latent([5]), 3)
    assert [a1.position(), a2.position(), b.position()] == [1, 2, 3]
    await asyncio.gather(a1.future, a2.future, b.future)
    assert a1.position() == 0 and q.depth == 0
    q.submit(faces.latent([3]), 1)  # caps are released once answered


async def test_close_answers_everything_pending(faces):
    q = make_queue(faces, window_ms=1000)
    tickets = [q.submit(faces.latent([s]), user_id=s) for s in range(3)]
    await q.close(timeout=0)
    for t in tickets:
        with pytest.raises(ShuttingDown, match="restarting"):
            await t.future
    with pytest.raises(ShuttingDown):
        q.submit(faces.latent([9]), 9)


def hanging_queue(faces, release: threading.Event, workers: int = 1, **kw) -> InferenceQueue:
    """A queue whose generator hangs (until `release`) on any batch holding the latent of seed 13."""
    bad = faces.latent([13])[0]

    def decode(z: torch.Tensor) -> np.ndarray:
        if any(torch.equal(row, bad) for row in z):
            release.wait()
        return faces.decode(z)

    return InferenceQueue(LocalBackend(decode, workers), **kw)


async def test_a_hung_call_times_out_alone_and_a_new_worker_serves_the_rest(faces):
    release = threading.Event()
    q = hanging_queue(faces, release, window_ms=50, timeout_s=0.5)
    try:
        good1, hung, good2 = (q.submit(faces.latent([s]), user_id=s) for s in (1, 13, 2))
        with pytest.raises(DrawTimeout, match="longer than 0.5 s"):
            await hung.future
        assert (await good1.future).shape == (1, 64, 64, 3) and (await good2.future).shape == (1, 64, 64, 3)
        assert q.timeouts == q.backend.abandoned == 2, "the batch's worker, then the one that tried seed 13 alone"
        assert (await q.submit(faces.latent([3]), user_id=3).future).shape == (1, 64, 64, 3)
    finally:
        release.set()


async def test_close_is_bounded_even_with_a_hung_worker(faces):
    release = threading.Event()
    q = hanging_queue(faces, release, window_ms=0, timeout_s=60)
    try:
        hung, waiting = q.submit(faces.latent([13]), user_id=1), q.submit(faces.latent([4]), user_id=2)
        await asyncio.sleep(0.2)
        start = time.monotonic()
        await q.close(timeout=0.5)
        assert time.monotonic() - start < 2
        for t in (hung, waiting):
            with pytest.raises(ShuttingDown):
                await t.future
    finally:
        release.set()


def timed_queue(faces, log: list, pause_s: float = 0.0, workers: int = 2, **kw) -> InferenceQueue:
    """A queue over `workers` threads whose calls record (size, thread, start, end), each taking
    at least pause_s."""

    def decode(z: torch.Tensor) -> np.ndarray:
        start = time.monotonic()
        images = faces.decode(z)
        time.sleep(max(0.0, pause_s - (time.monotonic() - start)))
        log.append((len(z), threading.get_ident(), start, time.monotonic()))
        return images

    return InferenceQueue(LocalBackend(decode, workers=workers), **kw)


async def test_two_workers_draw_two_batches_at_once(faces):
    log: list = []
    q = timed_queue(faces, log, pause_s=0.3, window_ms=0, max_batch=2, per_user=4)
    tickets = [q.submit(faces.latent([s]), user_id=s) for s in range(4)]
    results = await asyncio.gather(*(t.future for t in tickets))
    (n1, thread1, start1, end1), (n2, thread2, start2, end2) = sorted(log, key=lambda call: call[2])
    assert n1 == n2 == 2 and thread1 != thread2
    assert start2 < end1, "the second batch started before the first was done"
    for s, images in enumerate(results):
        assert np.abs(images.astype(int) - faces.render([s]).astype(int)).max() <= 1


async def test_a_few_latents_are_shared_out_between_idle_workers(faces):
    log: list = []
    q = timed_queue(faces, log, window_ms=50, max_batch=32, per_user=10, max_depth=100)
    await asyncio.gather(*(q.submit(faces.latent([s]), user_id=s).future for s in range(10)))
    assert sorted(n for n, *_ in log) == [5, 5], "not 10 on one worker while the other idles"
    log.clear()
    await asyncio.gather(*(q.submit(faces.latent([s]), user_id=s % 10).future for s in range(70)))
    sizes = [n for n, _, start, _ in sorted(log, key=lambda call: call[2])]
    assert sizes[:2] == [32, 32] and sum(sizes) == 70, "full batches while there are enough"


async def test_the_window_counts_from_the_first_requests_arrival(faces):
    log: list = []
    q = timed_queue(faces, log, pause_s=0.3, workers=1, window_ms=300, per_user=4)
    first = q.submit(faces.latent([1]), user_id=1)
    await asyncio.sleep(0.35)  # the first waited its window and is being drawn
    second = q.submit(faces.latent([2]), user_id=2)
    await asyncio.gather(first.future, second.future)
    (_, _, _, end1), (_, _, start2, _) = sorted(log, key=lambda call: call[2])
    assert start2 - end1 < 0.2, "the second had already waited most of its window behind the first"


async def test_a_worker_goes_straight_on_to_the_next_full_batch(faces):
    log: list = []
    q = timed_queue(faces, log, pause_s=0.2, workers=1, window_ms=0, max_batch=2, per_user=6)
    tickets = [q.submit(faces.latent([s]), user_id=s) for s in range(6)]
    await asyncio.sleep(0.05)  # the first batch is being drawn
    time.sleep(0.4)  # the event loop is busy (posting faces, say) when it ends
    await asyncio.gather(*(t.future for t in tickets))
    (_, _, _, end1), (_, _, start2, _), _ = sorted(log, key=lambda call: call[2])
    assert start2 - end1 < 0.1, "the second batch waited in the worker's line, not for the event loop"


async def test_each_worker_draws_the_warm_up_batch_before_serving(faces):
    log: list = []

    def decode(z: torch.Tensor) -> np.ndarray:
        log.append((len(z), threading.get_ident()))
        return faces.decode(z)

    backend = LocalBackend(decode, workers=2, warm=faces.latent(list(range(8))))
    try:
        (n1, thread1), (n2, thread2) = log  # both done when the backend is made
        assert n1 == n2 == 8 and thread1 != thread2
        assert (await backend.draw(faces.latent([5]))).shape == (1, 64, 64, 3)
        assert log[2][0] == 1 and log[2][1] in (thread1, thread2)
    finally:
        await backend.close()


async def test_a_hung_call_holds_one_worker_while_the_other_draws(faces):
    release = threading.Event()
    q = hanging_queue(faces, release, workers=2, window_ms=0, timeout_s=3)
    try:
        hung = q.submit(faces.latent([13]), user_id=1)
        await asyncio.sleep(0.1)
        start = time.monotonic()
        assert (await q.submit(faces.latent([4]), user_id=2).future).shape == (1, 64, 64, 3)
        assert time.monotonic() - start < 1, "drawn by the free worker, not after the timeout"
        with pytest.raises(DrawTimeout):
            await hung.future
        assert q.backend.abandoned == 1
        faces_after = [q.submit(faces.latent([s]), user_id=s) for s in (5, 6)]
        assert all(images.shape == (1, 64, 64, 3) for images in await asyncio.gather(*(t.future for t in faces_after)))
    finally:
        release.set()


async def test_expected_wait_grows_down_the_line(faces):
    q = make_queue(faces, window_ms=0, max_batch=4, per_user=1, max_depth=100)
    assert q.submit(faces.latent([0]), user_id=0).expected_wait() == pytest.approx(0.0), "no speed known yet"
    await asyncio.sleep(0.5)
    tickets = [q.submit(faces.latent([s]), user_id=s) for s in range(1, 41)]
    waits = [t.expected_wait() for t in tickets]
    assert 0 < waits[0] < waits[19] < waits[39]
    assert [t.position() for t in tickets[:3]] == [1, 2, 3]
    await asyncio.gather(*(t.future for t in tickets))
    assert tickets[-1].expected_wait() == 0 and tickets[-1].position() == 0


async def test_requests_drawn_together_share_their_batch_number(faces):
    q = make_queue(faces, window_ms=0, max_batch=4, per_user=1, max_depth=100)
    tickets = [q.submit(faces.latent([s]), user_id=s) for s in range(10)]
    assert [t.batch() for t in tickets] == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3]
    assert [t.position() for t in tickets[:3]] == [1, 2, 3], "the place among requests stays as it was"
    await asyncio.gather(*(t.future for t in tickets))
    assert tickets[-1].batch() == 0
    unbatched = make_queue(faces, window_ms=0, max_batch=4, per_user=1, max_depth=100, batching=False)
    assert [unbatched.submit(faces.latent([s]), user_id=s).batch() for s in range(3)] == [1, 2, 3]
