"""Names of things as figures and reports show them: metrics (from the typed summary),
chips, chip families and swept parameters."""

from __future__ import annotations

from sim.accounting.summary import find_metric

__all__ = [
    "FAMILY_LABELS",
    "chip_label",
    "family_label",
    "metric_label",
    "metric_name",
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
    """An axis label for a summary metric key, with its declared unit.

    >>> metric_label("metric.provider.tco_usd"), metric_label("engine.events")
    ('provider.tco_usd (USD)', 'engine.events (events)')
    """
    unit = metric_unit(key)
    return f"{metric_name(key)} ({unit})" if unit else metric_name(key)


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
