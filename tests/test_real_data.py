"""Real data and a time series: names by language, text files, the adding problem.

Every data folder and file is written here into ``tmp_path``: no network, no shared data.
"""

from __future__ import annotations

import json
import math
import socket
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_script
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rnn_scratch.models.classifier import build_model
from rnn_scratch.tasks import Adding, Names, Text, make_task
from rnn_scratch.tasks.names import ALPHABET, fetch_names, fold_ascii, macro_f1, stratified_split
from rnn_scratch.training.config import ConfigError, ModelConfig

SAMPLE_SCRIPT = ROOT / "scripts" / "sample.py"


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def write_folder(folder: Path, files: dict[str, list[str] | bytes]) -> Path:
    """``<Label>.txt`` files: a list of names (one a line, UTF-8) or raw bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    for label, content in files.items():
        data = content if isinstance(content, bytes) else "\n".join(content).encode() + b"\n"
        (folder / f"{label}.txt").write_bytes(data)
    return folder


def names_folder(tmp_path: Path) -> Path:
    """Three languages, written out of sorted order, with accents, a blank line and a repeat."""
    return write_folder(
        tmp_path / "names",
        {
            "Polish": ["Ślusarski", "Wójcik", "Kowalski", "Nowak", "Zieliński", "Łaski"]
            + [f"Nowak{c}" for c in "abcdefgh"],
            "Vietnamese": ["Nguyễn", "Trần", "Lê", "Phạm", "", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"],
            "English": ["Smith", "Jones", "Smith", "O'Neil", "Taylor-Brown", "Williams", "Brown", "Davies"]
            + [f"Evans{c}" for c in "abcdefghij"],
        },
    )


def text_file(tmp_path: Path, n: int = 2000) -> tuple[Path, str]:
    g = gen(7)
    letters = "abcdefgh ;\né"
    text = "".join(letters[i] for i in torch.randint(len(letters), (n,), generator=g).tolist())
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    return path, text


def closed_port_url() -> str:
    """A localhost URL nothing listens on: the connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/data.zip"


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Ślusarski", "Slusarski"),
        ("Nguyễn", "Nguyen"),
        ("Müller", "Muller"),
        ("O'Néal-Smith", "O'Neal-Smith"),
        ("Łaski", "aski"),  # Ł has no decomposition: dropped
        ("Straße 12", "Strae "),
        ("", ""),
    ],
)
def test_names_fold_to_the_ascii_alphabet(raw: str, folded: str) -> None:
    assert fold_ascii(raw) == folded
    assert set(fold_ascii(raw)) <= set(ALPHABET)


def test_labels_are_sorted_and_each_name_keeps_its_file(tmp_path: Path) -> None:
    task = Names(seq_len=20, data_dir=str(names_folder(tmp_path)), eval_fraction=0.25)
    assert task.labels == ["English", "Polish", "Vietnamese"]
    assert task.n_outputs == 3 and task.input_size == len(ALPHABET)
    expected = {
        "English": {"Smith", "Jones", "O'Neil", "Taylor-Brown", "Williams", "Brown", "Davies"}
        | {f"Evans{c}" for c in "abcdefghij"},
        "Polish": {"Slusarski", "Wojcik", "Kowalski", "Nowak", "Zielinski", "aski"}
        | {f"Nowak{c}" for c in "abcdefgh"},
        "Vietnamese": {"Nguyen", "Tran", "Le", "Pham", "Hoang", "Huynh", "Phan", "Vu", "Vo", "ang"},
    }
    seen: dict[str, set[str]] = {label: set() for label in task.labels}
    for batch in (task.sample(500, gen()), task.eval_set(1, gen())):
        assert batch.lengths is not None
        for row, length, label in zip(batch.x, batch.lengths, batch.y, strict=True):
            seen[task.labels[label]].add(task.decode(row[:length]))
    assert seen == expected
    assert task.baselines()["names_duplicate"] == 1  # the second Smith
    assert task.baselines()["names_skipped"] == 0  # the blank line is no name


def test_the_split_is_stratified_disjoint_and_seeded() -> None:
    sizes, fraction = [100, 40, 10, 3, 1], 0.2
    train, held_out = stratified_split(sizes, fraction, seed=0)
    assert sorted(torch.cat([train, held_out]).tolist()) == list(range(sum(sizes)))
    bounds = torch.tensor([0, *sizes]).cumsum(0)
    for i, n in enumerate(sizes):
        in_label = (held_out >= bounds[i]) & (held_out < bounds[i + 1])
        assert int(in_label.sum()) == min(n - 1, math.floor(n * fraction + 0.5))  # 20, 8, 2, 1, 0
    again, other = stratified_split(sizes, fraction, seed=0), stratified_split(sizes, fraction, seed=1)
    assert torch.equal(again[1], held_out) and not torch.equal(other[1], held_out)


def test_eval_set_is_the_whole_held_out_split(tmp_path: Path) -> None:
    task = Names(seq_len=20, data_dir=str(names_folder(tmp_path)), eval_fraction=0.25)
    a, b = task.eval_set(1, gen(1)), task.eval_set(10_000, gen(2))
    assert len(a) == len(b) == task.info["names_eval"] == 4 + 4 + 3  # round(0.25 * (17, 14, 10))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert task.info["names_train"] + task.info["names_eval"] == 17 + 14 + 10
    # training batches come from the training split only, and follow the generator
    held_out = {task.decode(r[:n]) for r, n in zip(a.x, a.lengths, strict=True)}  # type: ignore[arg-type]
    batch = task.sample(400, gen(3))
    drawn = {task.decode(r[:n]) for r, n in zip(batch.x, batch.lengths, strict=True)}  # type: ignore[arg-type]
    assert len(drawn) == 41 - 11 and not drawn & held_out
    assert torch.equal(task.sample(64, gen(5)).x, task.sample(64, gen(5)).x)


def test_metrics_and_baselines(tmp_path: Path) -> None:
    pred, y = torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 2, 0])
    # per class F1 = 2TP / (predicted + true): class 0: 2/4, class 1: 2/3, class 2: 4/5
    assert macro_f1(pred, y, 4) == pytest.approx((1 / 2 + 2 / 3 + 4 / 5) / 3)
    task = Names(seq_len=20, data_dir=str(names_folder(tmp_path)), eval_fraction=0.25)
    data = task.eval_set(0, gen())
    logits = torch.nn.functional.one_hot(data.y, 3).float()
    metrics = task.metrics(logits, data.y)
    assert set(metrics) == {"loss", "acc", "macro_f1"} and metrics["acc"] == metrics["macro_f1"] == 1.0
    base = task.baselines()
    assert base["chance_acc"] == pytest.approx(1 / 3)
    assert base["majority_acc"] == pytest.approx(4 / 11)  # English: the largest training label
    fig = task.figures(logits, data.y)["eval/confusion"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == task.labels
    assert [t.get_text() for t in ax.get_yticklabels()] == task.labels


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_a_padded_batch_gives_each_name_its_own_logits(tmp_path: Path, model: str) -> None:
    task = Names(seq_len=20, data_dir=str(names_folder(tmp_path)))
    batch = task.sample(32, gen())
    assert batch.lengths is not None and len(set(batch.lengths.tolist())) > 2
    torch.manual_seed(0)
    net = build_model(ModelConfig(name=model), task.input_size, 16, task.n_outputs)
    padded, _ = net(batch.x, batch.lengths)
    for i, n in enumerate(batch.lengths.tolist()):
        assert (batch.x[i, n:] == 0).all()
        alone, _ = net(batch.x[i : i + 1, :n])
        torch.testing.assert_close(padded[i : i + 1], alone, atol=1e-6, rtol=1e-5)
    unread, _ = net(batch.x)  # reading out at the padded end instead gives other logits
    assert not torch.allclose(unread, padded, atol=1e-4)


def test_long_names_are_cut_to_seq_len_and_counted(tmp_path: Path) -> None:
    folder = write_folder(
        tmp_path / "n", {"A": ["Abc", "Abcde", "Abcdefg", "Abcdefghi", "1234"], "B": ["Bb", "Bbbbbbb", "ßł"]}
    )
    task = Names(seq_len=5, data_dir=str(folder), eval_fraction=0.3)
    assert task.width == 5
    assert task.baselines()["names_truncated"] == 3  # Abcdefg, Abcdefghi, Bbbbbbb
    assert task.baselines()["names_skipped"] == 2  # 1234 and ßł fold to nothing
    batch = task.sample(200, gen())
    assert batch.x.shape == (200, 5) and batch.lengths is not None and int(batch.lengths.max()) == 5
    assert {task.decode(r[:n]) for r, n in zip(batch.x, batch.lengths, strict=True)} <= {
        "Abc", "Abcde", "Bb", "Bbbbb",
    }  # fmt: skip
    short = Names(seq_len=50, data_dir=str(folder), eval_fraction=0.3)
    assert short.width == 9 and short.baselines()["names_truncated"] == 0  # width = longest name


def test_download_unpacks_the_archive_once_into_the_cache(tmp_path: Path) -> None:
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("data/names/Greek.txt", "Papadopoulos\nAlexiou\n")
        z.writestr("data/names/Irish.txt", "Ó Briain\nMurphy\n")
        z.writestr("data/eng-fra.txt", "not names\n")
    cache = tmp_path / "cache"
    folder = fetch_names(archive.as_uri(), cache)
    assert folder == cache / "names" and sorted(p.name for p in folder.iterdir()) == [
        "Greek.txt",
        "Irish.txt",
    ]
    archive.unlink()  # the second time reads the cache: no fetch at all
    task = Names(seq_len=20, download=True, cache_dir=str(cache), url=archive.as_uri(), eval_fraction=0.5)
    assert task.labels == ["Greek", "Irish"]


# --- bad input: one ConfigError naming the key and the file --------------------------------------


def bad_names(tmp_path: Path, case: str) -> tuple[dict, str, str]:
    """(task options, key, text the message must hold) for each bad names input."""
    good = ["Smith", "Jones", "Brown"]
    if case == "missing folder":
        return {"data_dir": str(tmp_path / "nowhere")}, "task.data_dir", str(tmp_path / "nowhere")
    if case == "download unavailable":
        url = closed_port_url()
        return {"download": True, "url": url, "cache_dir": str(tmp_path / "c")}, "task.download", url
    files: dict[str, list[str] | bytes] = {
        "empty label file": {"A": good, "Empty": b""},
        "blank label file": {"A": good, "Blank": b"\n  \n"},
        "undecodable bytes": {"A": good, "Latin1": "Müller\n".encode("latin-1")},
        "single label": {"A": good},
        "nothing left after folding": {"A": good, "Digits": ["123", "ßß"]},
        "no label files": {},
    }[case]
    folder = write_folder(tmp_path / "bad", files)
    target = {
        "empty label file": "Empty.txt",
        "blank label file": "Blank.txt",
        "undecodable bytes": "Latin1.txt",
    }
    target |= {"nothing left after folding": "Digits.txt"}
    return {"data_dir": str(folder)}, "task.data_dir", str(folder / target.get(case, ""))


NAMES_CASES = [
    "missing folder", "download unavailable", "empty label file", "blank label file", "undecodable bytes",
    "single label", "nothing left after folding", "no label files",
]  # fmt: skip


@pytest.mark.parametrize("case", NAMES_CASES)
def test_bad_names_input_is_one_clear_error(tmp_path: Path, case: str) -> None:
    options, key, needle = bad_names(tmp_path, case)
    with pytest.raises(ConfigError) as info:
        make_task("names", 20, **options)
    message = str(info.value)
    assert info.value.key == key and message.startswith(f"{key}: ")
    assert needle.rstrip("/") in message and "\n" not in message


def bad_text(tmp_path: Path, case: str) -> tuple[dict, str]:
    path = tmp_path / "t.txt"
    content = {
        "missing file": None,
        "empty file": b"",
        "undecodable bytes": b"hello \xff\xfe world" * 20,
        "too short": b"0123456789" * 3,
    }[case]
    if content is not None:
        path.write_bytes(content)
    return {"path": str(path)}, str(path)


TEXT_CASES = ["missing file", "empty file", "undecodable bytes", "too short"]


@pytest.mark.parametrize("case", TEXT_CASES)
def test_bad_text_input_is_one_clear_error(tmp_path: Path, case: str) -> None:
    options, needle = bad_text(tmp_path, case)
    with pytest.raises(ConfigError) as info:
        make_task("text", 10, **options)
    assert info.value.key == "task.path" and needle in str(info.value) and "\n" not in str(info.value)


# --- text ---------------------------------------------------------------------------------------


def test_text_windows_predict_the_next_character(tmp_path: Path) -> None:
    path, text = text_file(tmp_path)
    task = Text(seq_len=9, path=str(path), eval_fraction=0.2)
    assert task.alphabet == "".join(sorted(set(text))) and task.n_outputs == task.input_size == 12
    head, tail = text[: task.split], text[task.split :]
    assert task.split == 1600
    batch = task.sample(300, gen())
    assert batch.x.shape == (300, 9) and batch.y.shape == (300,)
    for row, y in zip(batch.x, batch.y, strict=True):
        assert task.decode(row) + task.alphabet[y] in head
    every = task.eval_set(10**6, gen())
    assert len(every) == len(tail) - 9  # every window of the tail that has a next character
    assert task.decode(every.x[0]) + task.alphabet[every.y[0]] == tail[:10]
    few, again = task.eval_set(50, gen(1)), task.eval_set(50, gen(2))
    assert len(few) == 50 and torch.equal(few.x, again.x) and torch.equal(few.y, again.y)
    for row, y in zip(few.x, few.y, strict=True):
        assert task.decode(row) + task.alphabet[y] in tail
    base = task.baselines()
    assert base["chance_acc"] == pytest.approx(1 / 12) and 0 < base["majority_acc"] < 0.3
    assert base["unigram_loss"] == pytest.approx(math.log(12), abs=0.05)  # uniform random letters


# --- adding -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seq_len", [2, 7, 50])
def test_adding_targets_follow_the_definition(seq_len: int) -> None:
    task = make_task("adding", seq_len)
    batch = task.sample(500, gen())
    assert batch.x.shape == (500, seq_len, 2) and batch.x.dtype == torch.float32
    assert batch.y.shape == (500, 1) and task.n_outputs == 1 and task.input_size == 2
    values, markers = batch.x[..., 0], batch.x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert ((markers == 0) | (markers == 1)).all() and (markers.sum(dim=1) == 2).all()
    half = seq_len // 2
    assert (markers[:, :half].sum(dim=1) == 1).all() and (markers[:, half:].sum(dim=1) == 1).all()
    torch.testing.assert_close(batch.y[:, 0], (values * markers).sum(dim=1))


def test_adding_always_one_scores_one_sixth() -> None:
    task = Adding(seq_len=20)
    y = task.sample(200_000, gen()).y
    assert task.loss(torch.ones_like(y), y).item() == pytest.approx(1 / 6, abs=0.01)
    assert task.baselines() == {"baseline_mse": pytest.approx(1 / 6)}
    held_out = task.eval_set(1000, gen(1))
    eval_baseline = ((held_out.y - 1) ** 2).mean().item()
    assert task.baselines()["baseline_mse_eval"] == pytest.approx(eval_baseline)
    assert set(task.metrics(torch.ones_like(y), y)) == {"loss", "mse"}


@pytest.mark.gpu
def test_data_lives_on_the_generators_device(tmp_path: Path) -> None:
    cuda = torch.Generator("cuda").manual_seed(0)
    tasks = [
        Names(seq_len=20, data_dir=str(names_folder(tmp_path))),
        Text(seq_len=9, path=str(text_file(tmp_path)[0])),
        Adding(seq_len=10),
    ]
    for task in tasks:
        for batch in (task.sample(8, cuda), task.eval_set(8, cuda)):
            assert batch.x.is_cuda and batch.y.is_cuda
            assert batch.lengths is None or batch.lengths.is_cuda


# --- through scripts/train.py -------------------------------------------------------------------


def test_names_trains_through_the_script(train_run, tmp_path: Path) -> None:
    folder = names_folder(tmp_path)
    proc, run_dir = train_run("task=names", f"task.data_dir={folder}", "seq_len=6", "task.eval_fraction=0.25")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    for key in ("eval_acc", "eval_macro_f1", "eval_loss", "train_macro_f1", "majority_acc", "chance_acc"):
        assert isinstance(metrics[key], float), key
    assert metrics["names_truncated"] == 5  # Taylor-Brown, Williams, Slusarski, Kowalski, Zielinski
    assert metrics["names_skipped"] == 0 and metrics["names_eval"] == 11
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0})
    acc.Reload()
    assert "eval/confusion" in acc.Tags()["images"] and "eval/macro_f1" in acc.Tags()["scalars"]


@pytest.mark.slow
def test_text_trains_and_samples_through_the_scripts(train_run, tmp_path: Path) -> None:
    path, text = text_file(tmp_path)
    proc, run_dir = train_run("task=text", f"task.path={path}", "seq_len=8")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("eval_acc", "eval_loss", "eval_bpc", "majority_acc", "unigram_loss", "chance_acc"):
        assert isinstance(metrics[key], float), key
    sample = run_script([str(run_dir), "--length", "30", "--prime", "abc"], tmp_path, script=SAMPLE_SCRIPT)
    assert sample.returncode == 0, sample.stderr
    generated = sample.stdout.rstrip("\n")
    assert generated.startswith("abc") and len(generated) == 33 and set(generated) <= set(text)


@pytest.mark.parametrize("model", ["rnn", "lstm"])
def test_adding_trains_through_the_script(train_run, model: str) -> None:
    proc, run_dir = train_run("task=adding", "seq_len=10", f"model={model}")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["baseline_mse"] == pytest.approx(1 / 6)
    assert 0.05 < metrics["baseline_mse_eval"] < 0.4  # always 1, on the 32 eval samples
    assert isinstance(metrics["eval_mse"], float) and metrics["eval_mse"] == metrics["eval_loss"]
    assert "train_acc" not in metrics and not metrics.get("eval_acc")  # a regression: no accuracy


SCRIPT_CASES = [
    ("names", "missing folder"),
    ("names", "empty label file"),
    ("names", "single label"),
    ("names", "undecodable bytes"),
    ("names", "download unavailable"),
    ("text", "empty file"),
    ("text", "undecodable bytes"),
    ("text", "missing file"),
]


@pytest.mark.parametrize(("task", "case"), SCRIPT_CASES, ids=lambda v: v)
def test_bad_data_stops_the_script_with_one_line(train_run, tmp_path: Path, task: str, case: str) -> None:
    if task == "names":
        options, key, needle = bad_names(tmp_path, case)
    else:
        (options, needle), key = bad_text(tmp_path, case), "task.path"
    proc, run_dir = train_run(f"task={task}", "seq_len=10", *(f"task.{k}={v}" for k, v in options.items()))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}: ") and needle in lines[0], proc.stderr
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "tb").exists()


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["task=names"], "task.data_dir"),
        (["task=names", "task.data_dir=x", "task.eval_fraction=1.0"], "task.eval_fraction"),
        (["task=text"], "task.path"),
        (["task=adding", "seq_len=1"], "seq_len"),
    ],
)
def test_missing_or_bad_task_keys_fail_before_any_work(train_run, overrides: list[str], key: str) -> None:
    proc, run_dir = train_run(*overrides)
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: {key}: "), proc.stderr
    assert not (run_dir / "metrics.json").exists()
