"""TensorBoard's HParams dashboard for a sweep: one experiment at the sweep's root, a session per run.

TensorBoard's HParams plugin reads one *experiment* summary (which hparams and metrics exist) and, for
every run, a *session* (the run's values, then its end status). It uses the first experiment summary it
finds and, when there is none, builds one from the sessions. When each run wrote its own experiment,
none said which keys the sweep varied, and the dashboard opened on the first keys alphabetically, all
constant. So a run writes its session only (``Monitor.hparams``), and the first job of a sweep writes
the experiment once, at the sweep's root, with the swept keys first and marked ``differs`` (the plugin
lists such keys first and shows them by default).
"""

from __future__ import annotations

from pathlib import Path

from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import plugin_data_pb2
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

# The override key of each HParams name (``results.hparam_values``), where the two differ.
OVERRIDE_KEYS = {
    "model": ("model", "model.name"),
    "task": ("task", "task.name"),
    "optim": ("optim", "optim.name"),
    "init": ("model.init",),
    "bptt": ("model.bptt",),
    "truncate": ("model.truncate",),
    "lr": ("optim.lr",),
}


def swept_hparams(override_keys: list[str], names: list[str]) -> list[str]:
    """The HParams names (of ``names``) that the overrides ``override_keys`` set, in their order.

    ``["model", "seq_len"]`` -> ``["model", "seq_len"]``; ``["optim.lr"]`` -> ``["lr"]``.
    """
    found = []
    for key in override_keys:
        for name in names:
            if key in OVERRIDE_KEYS.get(name, (name,)) and name not in found:
                found.append(name)
    return found


def name_session(session_start: Summary, name: str) -> Summary:
    """Give a run's HParams session a readable name: the dashboard's "Trial ID", which is otherwise the
    run's path under the log dir (``multirun/2026-11-29/...``, cut short in the table)."""
    value = session_start.value[0]
    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    data.session_start_info.group_name = name
    value.metadata.plugin_data.content = data.SerializeToString()
    return session_start


def has_events(folder: Path) -> bool:
    """Whether ``folder`` itself (not a subfolder) holds a TensorBoard event file."""
    return any(folder.glob("events.out.tfevents.*"))


def write_sweep_experiment(
    sweep_dir: Path | str,
    params: dict[str, float | int | str | bool],
    metrics: list[str],
    swept: list[str],
) -> bool:
    """Write the sweep's experiment summary into ``sweep_dir`` unless one is there; True if written.

    ``params``: one run's HParams values (their types are the columns' types); ``metrics``: the
    scalar tags to show as columns (``eval/acc``, ...); ``swept``: the keys the sweep varied.
    """
    sweep_dir = Path(sweep_dir)
    if has_events(sweep_dir):
        return False
    summary, _, _ = hparams(params, dict.fromkeys(metrics, 0.0))
    value = summary.value[0]
    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    infos = sorted(
        data.experiment.hparam_infos,
        key=lambda info: swept.index(info.name) if info.name in swept else len(swept),
    )
    for info in infos:
        info.differs = info.name in swept
    data.experiment.ClearField("hparam_infos")
    data.experiment.hparam_infos.extend(infos)
    value.metadata.plugin_data.content = data.SerializeToString()
    writer = SummaryWriter(log_dir=str(sweep_dir))
    writer._get_file_writer().add_summary(summary)
    writer.close()
    return True
