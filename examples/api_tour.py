# %% [markdown]
# # xpusim from Python
#
# The same steps as the command line (`xpusim run`, `compare`, `sweep`), in-process, with
# results as pandas DataFrames. tests/test_api.py runs this file; api_tour.ipynb holds the
# same cells; run either from the repository root (the paths are relative to it). Two
# replications a run keep it to about a minute.

# %%
import tempfile
from pathlib import Path

import sim.api as xs

SHORT = {"replications": 2}

# %% [markdown]
# Load a scenario with overrides (dotted paths, as `--set`) and run it. Bad input raises
# `sim.errors.UserError` with the message the command line prints.

# %%
base = xs.load("scenarios/baseline.yaml", SHORT)
result = xs.run(base, seed=7)
print(f"{result.replications} replications")
print(result.headline[["label", "unit", "mean", "half_width95"]].to_string(index=False))

# %% [markdown]
# One metric, typed: mean and the half-width of its 95% interval, label and unit.

# %%
tco = result.metric("provider.tco_usd")
print(f"{tco.label}: {tco.mean / 1e9:.3f} ± {tco.half_width / 1e9:.3f} billion {tco.unit}")

# %% [markdown]
# The run's tables are DataFrames; their dates are datetimes.

# %%
timeseries = result.tables["timeseries"]
print(timeseries.dtypes["month"], timeseries["month"].min(), timeseries["month"].max())

# %% [markdown]
# A variant under the same seed, compared: the interval of the difference is paired.

# %%
variant = xs.run("scenarios/baseline.yaml", {**SHORT, "economics.pue": 1.5}, seed=7)
table = xs.compare({"baseline": result, "pue 1.5": variant})
energy = table[(table.key == "provider.energy_mwh") & (table.run == "pue 1.5")].iloc[0]
print(f"energy +{energy.relative:.1%} ± {energy.half_width95:,.0f} MWh ({energy.interval})")

# %% [markdown]
# A sweep over a grid, written to a folder and read back: one row per point. The folder
# here is temporary and removed when the cell ends; give `out` a folder of your own (say
# `results/pue-sweep`) to keep the sweep.

# %%
with tempfile.TemporaryDirectory(prefix="xpusim-tour-") as folder:
    swept = xs.sweep(
        "scenarios/baseline.yaml",
        SHORT,
        grid={"economics.pue": [1.1, 1.4]},
        replications=1,
        out=Path(folder) / "pue-sweep",
    )
    print(swept.points[["param.economics.pue", "metric.provider.energy_mwh.mean"]])
    again = xs.read_sweep(Path(folder) / "pue-sweep")
    print(len(again.runs), "runs read back")
