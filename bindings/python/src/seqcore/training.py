"""What ``fit()`` returns and shows: :class:`History` and the progress bar.

The progress bar is driven by the C library's progress callback (``seq_progress_callback``,
called after every batch). It uses tqdm when it is installed and a plain one-line display on
stderr otherwise; ``verbose=0`` shows nothing, ``verbose=2`` one line per epoch.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, List, Optional, TextIO

from .errors import MissingDependency

__all__ = ["History", "ProgressBar"]


@dataclass
class History:
    """The record of a ``fit()`` call.

    Attributes:
        loss: the training loss of each epoch (the mean of its batch losses, weighted by the
            numbers of sequences).
        val_loss: the validation loss after each epoch (empty without validation data).
        batch_loss: the loss of every batch, in order.
        learning_rate: the learning rate of the last step of each epoch.
        stopped_early: whether ``patience`` ended the training before ``epochs``.
        best_epoch: the epoch (1-based) whose weights the model has after ``fit`` when
            ``patience`` restored the best ones, else None.
    """

    loss: List[float] = field(default_factory=list)
    val_loss: List[float] = field(default_factory=list)
    batch_loss: List[float] = field(default_factory=list)
    learning_rate: List[float] = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: Optional[int] = None

    @property
    def epochs(self) -> int:
        """The number of epochs completed."""
        return len(self.loss)

    def plot(self, ax: Any = None, *, log: bool = False) -> Any:
        """Draws the training (and validation) loss per epoch with matplotlib and returns the Axes.

        Args:
            ax: a matplotlib Axes to draw on; a new figure when None.
            log: a logarithmic loss axis.

        Raises:
            MissingDependency: matplotlib is not installed (an ImportError).
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise MissingDependency("History.plot() needs matplotlib (pip install matplotlib)") from None
        if ax is None:
            _, ax = plt.subplots()
        epochs = range(1, len(self.loss) + 1)
        ax.plot(epochs, self.loss, marker="o", label="training loss")
        if self.val_loss:
            ax.plot(range(1, len(self.val_loss) + 1), self.val_loss, marker="o", label="validation loss")
        if self.best_epoch is not None:
            ax.axvline(self.best_epoch, linestyle=":", color="gray", label="restored weights")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        if log:
            ax.set_yscale("log")
        ax.legend()
        return ax

    def __repr__(self) -> str:
        last = f", loss={self.loss[-1]:.4g}" if self.loss else ""
        val = f", val_loss={self.val_loss[-1]:.4g}" if self.val_loss else ""
        return f"History(epochs={self.epochs}{last}{val}{', stopped_early' if self.stopped_early else ''})"


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    """Shows training progress: ``verbose`` 0 nothing, 1 a bar over all batches with the loss and
    the ETA (tqdm when importable, else a plain line redrawn at most 10 times a second, or one line
    per epoch with the ETA when the stream is not a terminal, e.g. a log file), 2 one line per
    epoch."""

    def __init__(self, total: int, epochs: int, verbose: int = 1, stream: Optional[TextIO] = None) -> None:
        self.total, self.epochs, self.verbose = total, epochs, verbose
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._tqdm: Any = None
        if verbose == 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._tqdm = tqdm(total=total, unit="batch", file=self.stream, dynamic_ncols=True, leave=True)
            elif not (hasattr(self.stream, "isatty") and self.stream.isatty()):
                self.verbose = 2  # no redrawing into a log: a line per epoch

    def update(self, epoch: int, loss: float, epoch_loss: float) -> None:
        self.done += 1
        if self.verbose != 1:
            return
        if self._tqdm is not None:
            self._tqdm.set_description(f"epoch {epoch}/{self.epochs}", refresh=False)
            self._tqdm.set_postfix(loss=f"{epoch_loss:.4f}", refresh=False)
            self._tqdm.update(1)
            return
        now = time.monotonic()
        if now - self._last_draw < 0.1 and self.done < self.total:
            return
        self._last_draw = now
        elapsed = now - self.start
        eta = elapsed / self.done * (self.total - self.done)
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        bar = "=" * filled + ">" * (filled < width) + "." * (width - filled - 1)
        self.stream.write(f"\repoch {epoch}/{self.epochs} [{bar[:width]}] {self.done}/{self.total} "
                          f"loss {epoch_loss:.4f} ETA {_clock(eta)} ")
        self.stream.flush()

    def epoch_end(self, epoch: int, loss: float, val_loss: Optional[float]) -> None:
        val = f" val_loss {val_loss:.4f}" if val_loss is not None else ""
        if self.verbose == 2:
            elapsed = time.monotonic() - self.start
            eta = elapsed / max(self.done, 1) * (self.total - self.done)
            self.stream.write(f"epoch {epoch}/{self.epochs} loss {loss:.4f}{val} "
                              f"({_clock(elapsed)}, ETA {_clock(eta)})\n")
            self.stream.flush()
        elif self.verbose == 1 and self._tqdm is not None and val_loss is not None:
            self._tqdm.set_postfix(loss=f"{loss:.4f}", val_loss=f"{val_loss:.4f}")

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
        elif self.verbose == 1 and self.done:
            self.stream.write("\n")
            self.stream.flush()
