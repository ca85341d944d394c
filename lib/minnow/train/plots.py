"""Figures a person looks at: the loss curve of a training run."""

from pathlib import Path

from minnow.atomic import atomic_path


def loss_curve(history: dict, path: str | Path, title: str) -> None:
    """Train and validation loss against step, as a PNG."""
    import matplotlib

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
