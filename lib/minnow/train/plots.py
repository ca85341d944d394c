"""Figures a person looks at: the loss curve of a training run.

Drawn with matplotlib where it is installed. A node without it (the gpu-check
wheelhouse leaves matplotlib's 24 MB out, so that one device call carries the house)
still gets loss_curve.png: the same two curves on the same grid, rasterised here
with numpy and written as a PNG with zlib, without the axes' text, and a note in
the log saying so.
"""

import logging
import struct
import zlib
from pathlib import Path

import numpy as np

from minnow.atomic import atomic_path

log = logging.getLogger(__name__)

WIDTH, HEIGHT, MARGIN = 770, 440, 40
COLOURS = {"train": (31, 119, 180), "val": (255, 127, 14)}  # matplotlib's first two


def loss_curve(history: dict, path: str | Path, title: str) -> None:
    """Train and validation loss against step, as a PNG."""
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed: %s is drawn without its axes' text (pip install matplotlib)", path)
        with atomic_path(path, suffix=".png") as tmp:
            Path(tmp).write_bytes(png(raster(history)))
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for split, style in (("train", {"alpha": 0.6, "lw": 1}), ("val", {"marker": "o", "lw": 2})):
        if history.get(split):
            steps, losses = zip(*history[split], strict=True)
            ax.plot(steps, losses, label=split, **style)
    ax.set(xlabel="step", ylabel="loss (nats/token)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def raster(history: dict) -> np.ndarray:
    """The curves as an RGB image: white ground, a frame and a 5 x 5 grid, train thin, val thick."""
    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    points = [p for split in COLOURS for p in history.get(split, [])]
    if not points:
        return image
    steps, losses = np.array(points, float).T
    lo, hi = np.array([steps.min(), losses.min()]), np.array([steps.max(), losses.max()])
    span = np.where(hi > lo, hi - lo, 1.0)
    size = np.array([WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN])

    def pixel(xy: np.ndarray) -> np.ndarray:  # data to (column, row); rows grow downwards
        col, row = MARGIN + (xy - lo) / span * size
        return np.array([col, HEIGHT - row])

    for i in range(6):
        x, y = MARGIN + i * size[0] // 5, MARGIN + i * size[1] // 5
        image[MARGIN : HEIGHT - MARGIN + 1, x] = image[y, MARGIN : WIDTH - MARGIN + 1] = 220 if 0 < i < 5 else 0
    for split, colour in COLOURS.items():
        xy = [pixel(np.array(p, float)) for p in history.get(split, [])]
        for a, b in zip(xy, xy[1:] or xy, strict=False):
            _segment(image, a, b, colour, thick=split == "val")
    return image


def _segment(image: np.ndarray, a: np.ndarray, b: np.ndarray, colour: tuple, thick: bool) -> None:
    n = int(np.abs(b - a).max()) + 1
    cols, rows = np.rint(np.linspace(a, b, n)).astype(int).T
    for d in (-1, 0, 1) if thick else (0,):
        image[np.clip(rows + d, 0, HEIGHT - 1), np.clip(cols, 0, WIDTH - 1)] = colour


def png(image: np.ndarray) -> bytes:
    """An RGB uint8 image as PNG bytes: each row unfiltered, zlib-compressed."""
    height, width, _ = image.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + chunk(b"IEND", b"")
    )
