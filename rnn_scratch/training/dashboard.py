"""TensorBoard's HParams dashboard for a sweep: a session per run, and the sweep's experiment in each.

TensorBoard's HParams plugin reads one *experiment* summary (which hparams and metrics exist) and, for
every run, a *session* (the run's values, then its end status). It uses the first experiment summary it
finds and, when there is none, builds one from the sessions; built so, it says nothing of which keys the
sweep varied, and the dashboard opened on the first keys alphabetically, all constant. So a run writes
its session (``Monitor.hparams``), and every job of a sweep writes the sweep's experiment, the same in
each, with the swept keys first and marked ``differs`` (the plugin lists such keys first and shows them
by default), into its own ``tb/`` folder. Not at the sweep's root: TensorBoard lists every folder that
holds event files as a run, so an experiment there made the root an extra run, with no data, beside
the sweep's jobs.
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


EXPERIMENT_SUFFIX = ".experiment"  # the event file that holds a run's copy of its sweep's experiment


def has_experiment(tb_dir: Path) -> bool:
    """Whether ``tb_dir`` already holds the sweep's experiment (written by ``write_sweep_experiment``)."""
    return any(tb_dir.glob(f"events.out.tfevents.*{EXPERIMENT_SUFFIX}"))


def write_sweep_experiment(
    tb_dir: Path | str,
    params: dict[str, float | int | str | bool],
    metrics: list[str],
    swept: list[str],
) -> bool:
    """Write the sweep's experiment summary into a job's ``tb_dir`` unless one is there; True if written.

    ``params``: one run's HParams values (their types are the columns' types); ``metrics``: the
    scalar tags to show as columns (``eval/acc``, ...); ``swept``: the keys the sweep varied.
    """
    tb_dir = Path(tb_dir)
    if has_experiment(tb_dir):
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
    writer = SummaryWriter(log_dir=str(tb_dir), filename_suffix=EXPERIMENT_SUFFIX)
    writer._get_file_writer().add_summary(summary)
    writer.close()
    return True
