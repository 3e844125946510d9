"""A serving process keeps each batch's freed buffers in the C heap (bot/heap.py)."""

from __future__ import annotations

import ctypes
import platform

import pytest

from bot.heap import MMAP_THRESHOLD, keep_freed_buffers


class MallInfo2(ctypes.Structure):  # glibc's struct mallinfo2 (2.33 and newer)
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's thresholds are glibc's")
def test_a_batch_sized_buffer_comes_from_the_heap_and_stays_there_when_freed():
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.mallinfo2.restype = MallInfo2
    assert keep_freed_buffers()
    size = MMAP_THRESHOLD // 2  # a feature map of a large batch
    mapped = libc.mallinfo2().hblkhd
    buffer = libc.malloc(size)
    assert buffer and libc.mallinfo2().hblkhd == mapped, "not mapped on its own, as glibc maps it by default"
    libc.free(buffer)
    assert libc.mallinfo2().fordblks >= size, "kept free in the heap for the next batch, not trimmed away"
