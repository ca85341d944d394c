"""The loss curve: matplotlib's figure, or without matplotlib the same curves rasterised here."""

import logging
import sys

import numpy as np
import pytest

from minnow.train import plots

HISTORY = {"train": [[s, 4.0 - s / 100] for s in range(1, 201)], "val": [[50, 3.6], [100, 3.1], [200, 2.2]]}


def decoded(path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def test_without_matplotlib_the_curves_are_drawn_and_the_log_says_what_is_missing(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    with caplog.at_level(logging.WARNING):
        plots.loss_curve(HISTORY, tmp_path / "curve.png", "tiny")
    assert "matplotlib is not installed" in caplog.text
    image = decoded(tmp_path / "curve.png")
    assert image.shape == (plots.HEIGHT, plots.WIDTH, 3)
    for split, colour in plots.COLOURS.items():
        rows, cols = np.nonzero((image == colour).all(axis=2))
        assert len(cols) > 100, split
        # falling losses: the curve's right end sits lower in the image than its left end
        assert rows[cols == cols.max()].mean() > rows[cols == cols.min()].mean(), split
    assert list(tmp_path.iterdir()) == [tmp_path / "curve.png"]  # written atomically, no temporary left


def test_the_raster_maps_the_first_and_last_points_to_the_plot_areas_corners():
    image = plots.raster({"train": [[0, 1.0], [10, 0.0]]})
    blue = (image == plots.COLOURS["train"]).all(axis=2)
    top, left, bottom, right = plots.MARGIN, plots.MARGIN, plots.HEIGHT - plots.MARGIN, plots.WIDTH - plots.MARGIN
    assert blue[top, left] and blue[bottom, right]  # the highest loss at the first step: top left
    assert not blue[bottom, left] and not blue[top, right]
    assert plots.raster({}).min() == 255  # no history: a blank image, not an error


def test_with_matplotlib_the_figure_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    plots.loss_curve(HISTORY, tmp_path / "curve.png", "tiny")
    assert decoded(tmp_path / "curve.png").shape[2] == 3
