"""Small batches on a CUDA GPU through captured CUDA graphs.

A DCGAN forward at batch 1 is a dozen short kernels: launching them one by one from Python costs
more than running them, and so does the host copy of a float picture. A captured graph replays the
whole draw, uint8 conversion included, as one launch, and the faces come home in one copy to
pinned memory (measured in docs/bot_load.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch

from .imaging import uint8_nhwc

GRAPH_BATCHES = (1, 2, 4, 8, 16, 32, 64)  # a batch is padded up to the next one; larger ones run eagerly
WARMUP_CALLS = 3  # on a side stream before capture, as torch asks: lazy initialisation, cuDNN choices


class GraphedDraw:
    """`draw` (latents -> generator output) captured once per size in GRAPH_BATCHES.

    Rows of a batch are independent (no batch statistics: the DCGAN's batch norm is fused into its
    convolutions, the style generator has none), so padding a batch of 3 to 4 changes none of its
    faces. One lock guards the static buffers: callers on
    several threads take turns, which a GPU does anyway."""

    @torch.inference_mode()  # no autograd graph is captured with the kernels
    def __init__(
        self, draw: Callable[[torch.Tensor], torch.Tensor], latent_dim: int, device: torch.device, dtype: torch.dtype
    ):
        self._lock = threading.Lock()
        self._device = device
        self._graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        with torch.cuda.device(device):  # streams and captures on the generator's GPU, whichever is current
            for size in GRAPH_BATCHES:
                static_z = torch.zeros(size, latent_dim, device=device, dtype=dtype)
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    for _ in range(WARMUP_CALLS):
                        uint8_nhwc(draw(static_z))
                torch.cuda.current_stream().wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    static_out = uint8_nhwc(draw(static_z))
                self._graphs[size] = (graph, static_z, static_out)
        self._host = torch.empty(GRAPH_BATCHES[-1], *static_out.shape[1:], dtype=torch.uint8, pin_memory=True)

    @property
    def max_batch(self) -> int:
        return GRAPH_BATCHES[-1]

    @torch.inference_mode()
    def __call__(self, z: torch.Tensor) -> np.ndarray:
        """uint8 (N, H, W, 3) faces of CPU latents z, N <= max_batch."""
        n = len(z)
        size = next(s for s in GRAPH_BATCHES if s >= n)
        graph, static_z, static_out = self._graphs[size]
        with self._lock, torch.cuda.device(self._device):
            static_z[:n].copy_(z)
            graph.replay()
            host = self._host[:n]
            host.copy_(static_out[:n], non_blocking=True)
            torch.cuda.current_stream().synchronize()
            return host.numpy().copy()  # the pinned buffer is reused by the next call
