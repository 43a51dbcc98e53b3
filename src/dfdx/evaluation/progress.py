"""A progress bar over evaluations of f, whose total can grow.

The fixed-step modes know every point before the first call of f; the adaptive mode
asks for more points as its step sequence goes on. The bar therefore starts with the
points known so far and grows its total with every batch the evaluator is handed, so
done/total and the ETA are always about the work known at that moment.

tqdm is an optional dependency (``pip install dfdx[progress]``), imported only when a
bar is asked for.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Progress"]


class Progress:
    """Evaluations done out of a growing total, drawn by tqdm on stderr.

    Parameters
    ----------
    description : str, optional
        Text in front of the bar.
    file : file-like, optional
        Where to draw (default: ``sys.stderr`` at the time of the call).

    Raises
    ------
    ImportError
        If tqdm is not installed; the message says how to install it.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> bar = Progress(file=out)
    >>> bar.grow(4); bar.update(4); bar.grow(2); bar.update(2); bar.close()
    >>> "6/6" in out.getvalue()
    True
    """

    def __init__(self, description: str = "dfdx: f evaluations", file: Any = None) -> None:
        try:
            from tqdm.auto import tqdm  # type: ignore[import-untyped]
        except ImportError:
            raise ImportError(
                "progress=True draws a progress bar with tqdm, which is not installed: "
                "pip install dfdx[progress] (or pip install tqdm)."
            ) from None
        self._tqdm = tqdm
        self._options = {"desc": description, "unit": "eval", "file": file, "dynamic_ncols": True}
        self._bar: Any = None  # drawn at the first grow, when there is a total to show
        #: Evaluations read from a store rather than made (see :meth:`skip`).
        self.stored = 0
        self.closed = False

    @property
    def done(self) -> int:
        """Evaluations reported so far."""
        return 0 if self._bar is None else int(self._bar.n)

    @property
    def total(self) -> int:
        """Evaluations known so far (done or to do)."""
        return 0 if self._bar is None else int(self._bar.total)

    def grow(self, count: int) -> None:
        """`count` more evaluations are to be done."""
        if self._bar is None:
            self._bar = self._tqdm(total=count, **self._options)
        else:
            self._bar.total += count
            self._bar.refresh()

    def update(self, count: int) -> None:
        """`count` more evaluations are done."""
        self._bar.update(count)

    def skip(self, count: int) -> None:
        """`count` more evaluations were found done (read from a store).

        They count as done but not in the rate: the ETA stays that of the evaluations
        actually measured in this run.
        """
        bar = self._bar
        self.stored += count
        bar.set_postfix_str(f"{self.stored} from the store", refresh=False)
        bar.n += count
        bar.last_print_n += count  # tqdm's rate follows n - last_print_n over time
        bar.initial += count  # and, before its first smoothed rate, (n - initial) / elapsed
        bar.refresh()

    def close(self) -> None:
        """Draw the final state and release the line (idempotent)."""
        if not self.closed:
            self.closed = True
            if self._bar is not None:
                self._bar.close()
