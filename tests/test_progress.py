"""progress=True: evaluations done/total on stderr, a total that can grow, silent by default."""

from __future__ import annotations

import concurrent.futures as cf
import io
import re
import sys
import time

import numpy as np
import pytest

import dfdx
from dfdx.engine.layouts import AxisPoints
from dfdx.evaluation.evaluator import Evaluator
from dfdx.evaluation.progress import Progress


def slow(x):
    time.sleep(0.002)
    return float(np.sum(np.cos(x)))


def _final_count(text):
    counts = re.findall(r"(\d+)/(\d+) \[", text)
    assert counts, text
    return tuple(int(c) for c in counts[-1])


@pytest.mark.parametrize("kind", ["serial", "vectorized", "threads"])
def test_progress_shows_done_over_total_on_a_long_run(kind, capsys):
    x = np.linspace(0, 1, 30)
    kw = {"vectorized": True} if kind == "vectorized" else {}
    with cf.ThreadPoolExecutor(4) as pool:
        if kind == "threads":
            kw["workers"] = pool
        res = dfdx.gradient(
            slow if kind != "vectorized" else lambda x: np.sum(np.cos(x), axis=0), x, progress=True, **kw
        )
    err = capsys.readouterr().err
    assert "dfdx: f evaluations" in err
    assert _final_count(err) == (res.nfev, res.nfev) == (181, 181)
    assert "100%" in err


def test_progress_shows_an_eta_while_running():
    out = io.StringIO()
    bar = Progress(file=out)
    bar._options["mininterval"] = 0
    x = np.linspace(0, 1, 10)
    ev = Evaluator(slow, x, progress=bar)
    ev(AxisPoints(x, np.arange(10), np.full(10, 1e-3), np.array([-1.0, 1.0])))
    ev.close()
    text = out.getvalue()
    assert re.search(r"\d+/21 \[\d\d:\d\d<\d\d:\d\d", text)  # elapsed<remaining while running
    assert _final_count(text) == (21, 21)


def test_total_grows_with_every_call_of_the_evaluator():
    out = io.StringIO()
    x = np.array([1.0, 2.0])
    ev = Evaluator(lambda x: x @ x, x, progress=Progress(file=out))
    assert (ev.progress.done, ev.progress.total) == (1, 1)
    ev(AxisPoints(x, [0, 1], [0.5, 0.5], [-1.0, 1.0]))
    assert (ev.progress.done, ev.progress.total) == (5, 5)
    ev(AxisPoints(x, [0, 1], [0.25, 0.25], [-1.0, 1.0, 2.0]))  # an adaptive level, say
    assert (ev.progress.done, ev.progress.total) == (11, 11) == (ev.nfev, ev.nfev)
    ev.close()
    ev.close()
    assert _final_count(out.getvalue()) == (11, 11)


def test_the_bar_is_closed_when_f_raises(capsys):
    def f(x):
        if x[0] > 1:
            raise ValueError("stop")
        return float(x[0])

    with pytest.raises(ValueError, match="stop"):
        dfdx.gradient(f, [1.0, 2.0], progress=True)
    assert "dfdx: f evaluations" in capsys.readouterr().err


def test_the_bar_is_closed_when_f_fails_at_x(capsys):
    def f(x):
        raise ValueError("not here")

    with pytest.raises(ValueError, match="not here"):
        dfdx.gradient(f, [1.0, 2.0], progress=True)
    assert "0/1" in capsys.readouterr().err


def test_silent_by_default(capsys):
    dfdx.gradient(slow, np.linspace(0, 1, 5))
    dfdx.gradient(slow, np.linspace(0, 1, 5), progress=False)
    captured = capsys.readouterr()
    assert captured.err == captured.out == ""


def test_progress_must_be_a_flag():
    with pytest.raises(TypeError, match="`progress` must be True or False"):
        dfdx.gradient(slow, [1.0], progress="yes")


def test_missing_tqdm_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"pip install dfdx\[progress\]"):
        dfdx.gradient(slow, [1.0, 2.0], progress=True)
    assert dfdx.gradient(lambda x: x @ x, [1.0, 2.0]).nfev == 13  # not needed without a bar
