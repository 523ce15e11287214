"""Speedup against the serial baseline, and its rendering for the terminal."""

from __future__ import annotations

import pandas as pd

KEYS = ["host", "workload", "n"]


def speedup_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per finished trial with ``speedup`` = serial median / this median.

    The baseline is the serial trial of the same host, workload and n; without one,
    ``speedup`` stays blank (NA) rather than made up.
    """
    done = trials[trials["status"] == "FINISHED"].copy()
    columns = KEYS + ["backend", "workers", "wall_time_s", "wall_time_std_s", "speedup", "efficiency"]
    if done.empty:
        return pd.DataFrame(columns=columns)
    serial = (
        done[done["backend"] == "serial"].groupby(KEYS, dropna=False)["wall_time_s"].median().rename("serial_wall_time_s")
    )
    done = done.join(serial, on=KEYS)
    done["speedup"] = done["serial_wall_time_s"] / done["wall_time_s"]
    done["efficiency"] = done["speedup"] / done["workers"].astype("Float64")
    order = {"serial": 0}
    done["_order"] = done["backend"].map(lambda b: order.get(b, 1))
    done = done.sort_values(KEYS + ["_order", "backend", "workers"])
    return done[columns].reset_index(drop=True)


def format_speedup_table(table: pd.DataFrame) -> str:
    """A plain-text table: median wall time and speedup vs serial per combination."""
    if table.empty:
        return "No finished trials to tabulate."
    from runner.terminal import format_n, format_seconds

    view = pd.DataFrame(
        {
            "n": table["n"].map(lambda n: format_n(int(n))),
            "backend": table["backend"],
            "workers": table["workers"].astype(str),
            "median wall": table["wall_time_s"].map(format_seconds),
            "± std": (table["wall_time_std_s"] / table["wall_time_s"]).map(lambda r: f"{r:.1%}"),
            "speedup": table["speedup"].map(lambda s: "-" if pd.isna(s) else f"{s:.2f}x"),
            "efficiency": table["efficiency"].map(lambda e: "-" if pd.isna(e) else f"{e:.0%}"),
        }
    )
    hosts = table["host"].dropna().unique()
    title = f"Speedup vs serial (host {', '.join(map(str, hosts))})"
    return title + "\n" + view.to_string(index=False)
