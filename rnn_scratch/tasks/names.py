"""Names by language: PyTorch's char-RNN tutorial data, one ``<Label>.txt`` file per language.

Data: a folder of UTF-8 files, one name per line; the label is the file's stem (``Czech.txt`` -> Czech),
labels in sorted order. ``download=True`` fetches the tutorial's archive (``NAMES_URL``, names under
``data/names/``) once into ``cache_dir`` with urllib.

Characters: every name is folded to ASCII (Unicode NFD, combining marks dropped: "Ślusarski" ->
"Slusarski", "Nguyễn" -> "Nguyen") over the fixed alphabet ``ALPHABET`` (ASCII letters and " .,;'-");
any other character is dropped ("ß", "ł" and digits have no ASCII decomposition). A name that folds to
nothing is skipped and counted; with ``dedupe`` (default) a name repeated within a label is kept once,
so the held-out split never holds a copy of a training name (Arabic.txt repeats most of its names).

Split: stratified and seeded by ``split_seed``: ``eval_fraction * n`` names of every label (rounded
half up, at most n - 1) are held out. ``eval_set`` is that whole split (the run's ``eval_size`` is
ignored); ``sample`` draws training names uniformly, with replacement.

Variable length: names are right-padded (with index 0) to ``width = min(seq_len, longest name)`` and
the batch carries ``lengths``: the recurrent core carries each name's state unchanged through its
padding (a mask), so the read-out at the last step sees the state after the name's last real character
and padding changes neither the logits nor the gradients. Longer names are cut to ``seq_len``
characters and counted. Padding to a fixed width, not to the longest name of a batch, keeps the
per-timestep gradient profile one matrix (past a name's end its column repeats the gradient at its end).

Metrics: ``loss`` (cross-entropy), ``acc``, ``macro_f1``; baselines ``majority_acc`` (always the most
frequent training label) and ``chance_acc`` (1 / labels); the eval confusion matrix as a figure.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import string
import unicodedata
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnn_scratch.errors import ConfigError
from rnn_scratch.tasks.base import Batch, Task
from rnn_scratch.tasks.registry import TaskConfig, fraction, register_task

NAMES_URL = "https://download.pytorch.org/tutorial/data.zip"  # PyTorch's char-RNN tutorial data
NAMES_SOURCE = "set task.data_dir=<a folder of <Label>.txt files> or task.download=true"

ALPHABET = string.ascii_letters + " .,;'-"
NAMES_IN_ARCHIVE = "data/names/"
DOWNLOAD_TIMEOUT_S = 30.0


def fold_ascii(text: str, alphabet: str = ALPHABET) -> str:
    """NFD-decompose, drop combining marks, keep only characters of ``alphabet``."""
    return "".join(
        c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn" and c in alphabet
    )


def read_text(path: Path, key: str) -> str:
    """A UTF-8 file's text (a leading BOM dropped); ``ConfigError(key, ...)`` naming the file if not."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(key, f"{path}: not UTF-8 (byte {error.start}: {error.reason})") from None
    except OSError as error:
        raise ConfigError(key, f"cannot read {path}: {error.strerror or error}") from None


def fetch_names(url: str, cache_dir: str | Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """The names folder under ``cache_dir``, downloading and unpacking ``url`` the first time."""
    target = Path(cache_dir).expanduser() / "names"
    if target.is_dir() and any(target.glob("*.txt")):
        return target
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise ConfigError(
            "task.download",
            f"cannot fetch {url} ({reason}); without network access, unzip that archive by hand and "
            f"set task.data_dir=<...>/{NAMES_IN_ARCHIVE.rstrip('/')}",
        ) from None
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
        members = [m for m in archive.namelist() if m.startswith(NAMES_IN_ARCHIVE) and m.endswith(".txt")]
    except zipfile.BadZipFile:
        raise ConfigError("task.download", f"{url} is not a zip archive") from None
    if not members:
        raise ConfigError("task.download", f"{url} holds no {NAMES_IN_ARCHIVE}*.txt files")
    partial = target.with_name(f"names.partial-{os.getpid()}")
    partial.mkdir(parents=True, exist_ok=True)
    for member in members:  # by base name only: nothing is written outside the cache folder
        (partial / Path(member).name).write_bytes(archive.read(member))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)  # atomic: a reader never sees half a folder
    return target


def read_names(folder: Path, dedupe: bool = True) -> tuple[list[str], list[list[str]], dict[str, int]]:
    """Sorted labels, each label's folded names, and counts (``skipped``, ``duplicate``)."""
    key = "task.data_dir"
    if not folder.is_dir():
        raise ConfigError(key, f"{folder} is not a folder of <Label>.txt files")
    files = sorted(folder.glob("*.txt"))
    if len(files) < 2:
        raise ConfigError(key, f"{folder} holds {len(files)} <Label>.txt file(s); need at least 2 labels")
    counts = {"skipped": 0, "duplicate": 0}
    names: list[list[str]] = []
    for path in files:
        raw = [line.strip() for line in read_text(path, key).splitlines()]
        raw = [line for line in raw if line]
        folded = [fold_ascii(line) for line in raw]
        kept = [name for name in folded if name]
        counts["skipped"] += len(folded) - len(kept)
        if dedupe:
            unique = list(dict.fromkeys(kept))  # first occurrence, in file order
            counts["duplicate"] += len(kept) - len(unique)
            kept = unique
        if not kept:
            what = "is empty" if not raw else "has no name left after folding to ASCII"
            raise ConfigError(key, f"{path} {what}")
        names.append(kept)
    return [p.stem for p in files], names, counts


def stratified_split(label_sizes: list[int], eval_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices (into the labels' concatenated names) of the train and eval parts, per-label shuffled."""
    generator = torch.Generator().manual_seed(seed)
    train, held_out, offset = [], [], 0
    for n in label_sizes:
        order = torch.randperm(n, generator=generator) + offset
        n_eval = min(n - 1, math.floor(n * eval_fraction + 0.5))
        held_out.append(order[:n_eval])
        train.append(order[n_eval:])
        offset += n
    return torch.cat(train), torch.cat(held_out)


def macro_f1(pred: Tensor, y: Tensor, n_classes: int) -> float:
    """Mean over classes of F1 = 2 TP / (predicted + true), over the classes present in y or pred."""
    predicted = torch.bincount(pred, minlength=n_classes).double()
    true = torch.bincount(y, minlength=n_classes).double()
    tp = torch.bincount(y[pred == y], minlength=n_classes).double()
    present = (predicted + true) > 0
    return (2 * tp[present] / (predicted + true)[present]).mean().item()


def confusion_figure(pred: Tensor, y: Tensor, labels: list[str]) -> Any:
    """Row-normalised confusion matrix (rows: true label, columns: predicted), labels on both axes."""
    from matplotlib.figure import Figure  # not pyplot: no backend is chosen for the caller

    n = len(labels)
    counts = torch.bincount(y * n + pred, minlength=n * n).reshape(n, n).double().cpu()
    rows = counts / counts.sum(dim=1, keepdim=True).clamp(min=1)
    size = 2.5 + 0.3 * n
    fig = Figure(figsize=(size, size), dpi=80)
    ax = fig.subplots()
    im = ax.imshow(rows.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=90)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("eval confusion (each row sums to 1)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


@dataclass
class NamesConfig(TaskConfig):
    """Language of a name, from a folder of ``<Label>.txt`` files (rnn_scratch/tasks/names.py)."""

    name: str = "names"
    data_dir: str | None = None  # the folder; None: task.download must be true
    download: bool = False  # fetch url into cache_dir once (when data_dir is None)
    cache_dir: str = "~/.cache/rnn_scratch"
    url: str = NAMES_URL
    eval_fraction: float = 0.1  # held out, stratified by label
    split_seed: int = 0  # the train/eval split's seed (fixed across runs, whatever their seed)
    dedupe: bool = True  # keep a name repeated within a label once

    def check(self, seq_len: int) -> None:  # the files themselves: when the task reads them
        fraction("task.eval_fraction", self.eval_fraction)
        if self.data_dir is None and not self.download:
            raise ConfigError("task.data_dir", NAMES_SOURCE)


@register_task(NamesConfig)
@dataclass
class Names(Task):
    """Which language is this name from? x: (B, width) long, right-padded; lengths: (B,); y: (B,)."""

    data_dir: str | None = None
    download: bool = False
    cache_dir: str = "~/.cache/rnn_scratch"
    url: str = NAMES_URL
    eval_fraction: float = 0.1
    split_seed: int = 0
    dedupe: bool = True
    labels: list[str] = field(default_factory=list, init=False)
    _data: dict[str, tuple[Tensor, Tensor, Tensor]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.eval_fraction < 1:
            raise ConfigError("task.eval_fraction", f"must be in (0, 1), got {self.eval_fraction}")
        if self.data_dir is not None:
            folder = Path(self.data_dir).expanduser()
        elif self.download:
            folder = fetch_names(self.url, self.cache_dir)
        else:
            raise ConfigError("task.data_dir", NAMES_SOURCE)
        self.labels, per_label, counts = read_names(folder, self.dedupe)
        self.alphabet = ALPHABET
        self.input_size, self.n_outputs = len(ALPHABET), len(self.labels)
        names = [name for group in per_label for name in group]
        y = torch.tensor([i for i, group in enumerate(per_label) for _ in group])
        self.width = min(self.seq_len, max(map(len, names)))
        x = torch.zeros(len(names), self.width, dtype=torch.long)  # right padding with index 0
        for row, name in enumerate(names):
            cut = name[: self.width]
            x[row, : len(cut)] = torch.tensor([ALPHABET.index(c) for c in cut])
        lengths = torch.tensor([min(len(name), self.width) for name in names])
        train, held_out = stratified_split([len(g) for g in per_label], self.eval_fraction, self.split_seed)
        if len(held_out) == 0:
            raise ConfigError(
                "task.eval_fraction",
                f"{self.eval_fraction} holds out no name of {folder} (labels have {len(y)} names)",
            )
        self._data["cpu"] = (x, y, lengths)
        self.train_idx, self.eval_idx = train, held_out
        self.majority = int(torch.bincount(y[train], minlength=self.n_outputs).argmax())
        self.chance = 1.0 / self.n_outputs
        self.info = {
            "names_truncated": sum(len(name) > self.width for name in names),
            "names_skipped": counts["skipped"],
            "names_duplicate": counts["duplicate"],
            "names_train": len(train),
            "names_eval": len(held_out),
        }

    def _on(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """The data set (x, y, lengths) on ``device``, copied there once."""
        key = str(device)
        if key not in self._data:
            self._data[key] = tuple(t.to(device) for t in self._data["cpu"])  # type: ignore[assignment]
        return self._data[key]

    def _batch(self, idx: Tensor, device: torch.device) -> Batch:
        x, y, lengths = self._on(device)
        idx = idx.to(device)
        return Batch(x[idx], y[idx], lengths[idx])

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        pick = torch.randint(len(self.train_idx), (n,), generator=generator, device=generator.device)
        return self._batch(self.train_idx.to(generator.device)[pick], generator.device)

    def eval_set(self, n: int, generator: torch.Generator) -> Batch:
        """The whole held-out split (``n`` is ignored: the split is fixed by ``eval_fraction``)."""
        return self._batch(self.eval_idx, generator.device)

    def metrics(self, out: Tensor, y: Tensor, mask: Tensor | None = None) -> dict[str, float]:
        return {**super().metrics(out, y, mask), "macro_f1": macro_f1(out.argmax(dim=-1), y, self.n_outputs)}

    def baselines(self) -> dict[str, float]:
        y_eval = self._data["cpu"][1][self.eval_idx]
        majority_acc = (y_eval == self.majority).double().mean().item()
        return {"majority_acc": majority_acc, "chance_acc": self.chance, **self.info}

    def figures(self, out: Tensor, y: Tensor) -> dict[str, Any]:
        return {"eval/confusion": confusion_figure(out.argmax(dim=-1), y, self.labels)}
