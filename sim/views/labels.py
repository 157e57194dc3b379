"""Names of things as figures and reports show them: metrics (from the typed summary),
chips, chip families and swept parameters."""

from __future__ import annotations

from sim.accounting.summary import Metric, find_metric

__all__ = [
    "FAMILY_LABELS",
    "chip_label",
    "family_label",
    "metric_label",
    "metric_name",
    "metric_row_label",
    "metric_unit",
    "param_label",
]

FAMILY_LABELS: dict[str, str] = {
    "nvidia_gpu": "Nvidia GPU",
    "trainium": "Trainium",
    "inferentia": "Inferentia",
    "tpu": "TPU",
    "maia": "Maia",
    "amd_gpu": "AMD GPU",
}


def metric_name(key: str) -> str:
    """A summary key without the ``metric.`` prefix of sweep table columns.

    >>> metric_name("metric.provider.tco_usd")
    'provider.tco_usd'
    """
    return key.removeprefix("metric.")


def metric_unit(key: str) -> str:
    """The unit the run summary declares for a metric key ('' for a key it does not declare).

    >>> metric_unit("metric.provider.tco_usd"), metric_unit("queue.h100.mean_wait_hours")
    ('USD', 'hours')
    >>> metric_unit("usage_ratio_vs_gpu.trainium.2023"), metric_unit("no.such.metric")
    ('ratio', '')
    """
    metric = find_metric(metric_name(key))
    return "" if metric is None else metric.unit


def metric_label(key: str) -> str:
    """An axis label for a summary metric key: its declared label (with the pools, segments
    or years its key names) and its unit; the key itself for a metric nothing declares.

    >>> metric_label("metric.provider.tco_usd"), metric_label("engine.events")
    ('Provider TCO (USD)', 'Events (events)')
    >>> metric_label("no.such.metric")
    'no.such.metric'
    """
    name = metric_name(key)
    metric = find_metric(name)
    if metric is None:
        return name
    label = metric_row_label(name).strip()
    unit = metric.unit
    if unit and f"({unit.lower()})" not in label.lower():
        label = f"{label} ({unit})"
    return label


def param_label(key: str) -> str:
    """A swept parameter's path without the ``param.`` prefix of sweep table columns."""
    return key.removeprefix("param.")


def chip_label(chip: str) -> str:
    """A short display name of a chip id.

    >>> [chip_label(c) for c in ("h100", "a10g", "trainium2", "mi300x")]
    ['H100', 'A10G', 'Trainium2', 'MI300X']
    """
    return chip.upper() if len(chip) <= 6 else chip[:1].upper() + chip[1:]


def family_label(family: str) -> str:
    """Display name of a chip family."""
    return FAMILY_LABELS.get(family, family)


#: Units a formatted value already shows (or that need no saying).
_SHOWN_UNITS = frozenset({"USD", "date", "name", "chip id", "ratio", "", "fraction/year"})


def _instance_label(placeholder: str, part: str) -> str:
    """The display name of one key part: a chip family's or chip's name, else the part."""
    if placeholder == "{family}":
        return family_label(part)
    if placeholder in ("{pool}", "{chip}"):
        return chip_label(part)
    return part


def _instances(metric: Metric, key: str) -> list[str]:
    """Display names of the parts of a concrete key that stand for the metric's
    ``{placeholders}`` (families and chips by name)."""
    parts = key.split(".")
    templ = metric.key.split(".")
    if len(parts) != len(templ):
        return []
    return [_instance_label(t, p) for p, t in zip(parts, templ, strict=True) if t.startswith("{")]


def metric_row_label(key: str) -> str:
    """A metric's declared label, with the pools, segments, families or years its key names
    and its unit when the value does not show it.

    >>> metric_row_label("provider.tco_usd"), metric_row_label("provider.energy_mwh")
    ('Provider TCO', 'Energy (MWh)')
    >>> metric_row_label("customers.ports_started")
    'Ports started'
    >>> metric_row_label("usage_ratio_vs_gpu.trainium.2030")
    'Usage vs Nvidia GPUs: Trainium 2030'
    >>> metric_row_label("cost_per_pflop_usd.h100")
    'Provider cost per PFLOP: H100'
    >>> metric_row_label("queue.h100.mean_wait_hours"), metric_row_label("no.such")
    ('Mean wait: H100 (hours)', 'no.such')
    """
    name = metric_name(key)
    metric = find_metric(name)
    if metric is None:
        return name
    label = metric.label
    where = _instances(metric, name)
    if where:
        label = f"{label}: {' '.join(where)}"
    unit = metric.unit
    if unit in _SHOWN_UNITS or unit.lower() in metric.label.lower():
        return label
    if unit.startswith("USD/") and f"per {unit[4:]}".lower() in metric.label.lower():
        return label  # '$' shows the dollars, the label the 'per ...'
    return f"{label} ({unit})"
