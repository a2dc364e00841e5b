"""Reading a series from a CSV file, cutting it into windows, and the forecasters a model must beat.

A window of ``T`` values starting at ``i`` is ``v[i], ..., v[i + T - 1]``; its target is the value
``h`` steps after its end, ``v[t]`` with ``t = i + T - 1 + h`` (``h`` = the horizon). The baselines
see the same window:

* persistence:     v_hat[t] = v[t - h]              (the window's last value)
* seasonal naive:  v_hat[t] = v[t - s]              (one season ``s`` back; inside the window only when
  h <= s <= T - 1 + h)
* AR(p), direct:   v_hat[t] = c + sum_{k=1..p} a_k v[t - h - p + k]   (the window's last p values),
  ``(a_1..a_p, c)`` fitted by least squares on the training windows only (numpy, float64).

Missing values are NaN here; callers drop every window whose values or target touch one.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from rnn_scratch.errors import ConfigError

MISSING = ("", "na", "nan", "null", "none", "?")  # case-insensitive: a gap, never a number


def read_column(path: Path, column: str | None, date_column: str | None) -> tuple[np.ndarray, list[str]]:
    """The float64 values (NaN = missing) of ``column`` (None: the header's last column), and the
    strings of ``date_column`` (or [] when None). Problems raise ``ConfigError`` naming key and file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as error:
        raise ConfigError("task.path", f"{path}: not UTF-8 (byte {error.start}: {error.reason})") from None
    except OSError as error:
        raise ConfigError("task.path", f"cannot read {path}: {error.strerror or error}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]  # blank lines are not rows
    if not rows:
        raise ConfigError("task.path", f"{path} is empty")
    header = [h.strip() for h in rows[0]]
    name = column if column is not None else header[-1]
    for key, wanted in (("task.column", name), ("task.date_column", date_column)):
        if wanted is not None and wanted not in header:
            raise ConfigError(key, f"{path} has no column {wanted!r} (columns: {', '.join(header)})")
    at = header.index(name)
    values = np.full(len(rows) - 1, np.nan)
    for n, row in enumerate(rows[1:]):
        cell = row[at].strip() if at < len(row) else ""
        if cell.lower() in MISSING:
            continue
        try:
            values[n] = float(cell)
        except ValueError:
            values[n] = math.inf
        if not math.isfinite(values[n]):
            raise ConfigError(
                "task.column", f"{path} line {n + 2}: {cell!r} in column {name!r} is not a number"
            )
    dates = []
    if date_column is not None:
        d = header.index(date_column)
        dates = [row[d].strip() if d < len(row) else "" for row in rows[1:]]
    return values, dates


def window_starts(observed: np.ndarray, seq_len: int, horizon: int, first: int, last: int) -> np.ndarray:
    """Starts i of the windows whose target index t = i + seq_len - 1 + horizon lies in [first, last]
    and whose values and target are all observed (``observed``: bool per index)."""
    reach = seq_len - 1 + horizon
    starts = np.arange(max(first - reach, 0), last - reach + 1)
    if starts.size == 0:
        return starts
    gaps = np.concatenate([[0], np.cumsum(~observed)])  # gaps[j] = missing values before index j
    window_gaps = gaps[starts + seq_len] - gaps[starts]
    target_ok = observed[starts + reach]
    return starts[(window_gaps == 0) & target_ok]


def gather(values: np.ndarray, starts: np.ndarray, seq_len: int) -> np.ndarray:
    """(n, seq_len) windows of ``values`` starting at ``starts`` (n,)."""
    return values[starts[:, None] + np.arange(seq_len)]


def fit_ar(windows: np.ndarray, targets: np.ndarray, order: int) -> np.ndarray:
    """Least-squares AR(p) on the last ``order`` values of each window: (n, T), (n,) -> (a_1..a_p, c)."""
    design = np.concatenate([windows[:, -order:], np.ones((len(windows), 1))], axis=1)
    coef, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return coef


def predict_ar(coef: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """The AR forecast of each window: (n, T) -> (n,)."""
    order = len(coef) - 1
    return windows[:, -order:] @ coef[:-1] + coef[-1]


def baseline_forecasts(
    values: np.ndarray, starts: np.ndarray, seq_len: int, horizon: int, season: int, ar_coef: np.ndarray
) -> dict[str, np.ndarray]:
    """Each baseline's forecast for the windows at ``starts``: persistence, seasonal (when the window
    reaches one season back), ar."""
    windows = gather(values, starts, seq_len)
    out = {"persistence": windows[:, -1]}
    if horizon <= season <= seq_len - 1 + horizon:
        out["seasonal"] = windows[:, seq_len - 1 + horizon - season]
    out["ar"] = predict_ar(ar_coef, windows)
    return out
