"""Time ``buka_nb.analysis.failures_by_reason`` on a synthetic result frame with the real schema.

``python -m benchmarks.analysis_speed --rows 10000000`` prints one JSON line. The frame mixes the
three channels and every row state, with BUKA codes, reasons and categories from the catalog and
delivery reports for accepted rows; every column has its :data:`buka_nb.schema.RESULT_SCHEMA` dtype.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def synthetic_results(n: int, seed: int = 1):
    import pandas as pd

    from buka_nb.catalog import lookup
    from buka_nb.schema import RESULT_SCHEMA, conform

    rng = np.random.default_rng(seed)
    # (channel, state, code) with weights: mostly accepted, a realistic tail of failures.
    kinds = [("sms", "accepted", 0, 80), ("sms", "rejected", -9, 3), ("sms", "invalid", -9, 2),
             ("sms", "invalid", -20, 1), ("sms", "rejected", -10, 1), ("sms", "unknown", None, 0.5),
             ("sms", "not_sent", -13, 0.5), ("email", "accepted", 0, 6), ("email", "rejected", -3, 1),
             ("email", "invalid", -2, 1), ("voice", "accepted", 0, 3), ("voice", "rejected", -11, 1)]
    weights = np.array([k[3] for k in kinds], dtype=float)
    pick = rng.choice(len(kinds), size=n, p=weights / weights.sum())

    def column(values: list, dtype: str):
        return pd.array(values, dtype=dtype)[pick]

    infos = [lookup(ch, code) if code is not None else None for ch, _, code, _ in kinds]
    frame = pd.DataFrame({
        "channel": column([k[0] for k in kinds], "string"),
        "state": column([k[1] for k in kinds], "string"),
        "code": column([k[2] for k in kinds], "Int64"),
        "reason": column([i.reason if i else "Outcome unknown" for i in infos], "string"),
        "category": column([i.category if i else "unknown" for i in infos], "string"),
        "retryable": column([bool(i.retryable) if i else False for i in infos], "boolean"),
    })
    accepted = (frame["state"] == "accepted").to_numpy(dtype=bool, na_value=False)
    delivery = np.array(["delivered", "failed", "pending"], dtype=object)[rng.choice(3, size=n, p=[0.9, 0.06, 0.04])]
    reasons = np.array(["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD"], dtype=object)
    frame["delivery"] = pd.array(np.where(accepted, delivery, None), dtype="string")
    failed = frame["delivery"].eq("failed").to_numpy(dtype=bool, na_value=False)
    frame["delivery_reason"] = pd.array(np.where(failed, reasons[1:][rng.integers(0, 3, n)], None), dtype="string")
    frame["batch"] = pd.array(np.arange(n) // 1000, dtype="Int64")
    frame["submitted_at"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) // 1000, unit="s")
    frame = conform(frame)
    assert {c: str(t) for c, t in frame.dtypes.items()} == RESULT_SCHEMA
    return frame


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.analysis_speed")
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--repeats", type=int, default=3)
    ns = p.parse_args(argv)
    from buka_nb.analysis import failure_mask, failures_by_reason

    t0 = time.perf_counter()
    frame = synthetic_results(ns.rows)
    build = time.perf_counter() - t0
    times = []
    for _ in range(ns.repeats):
        t0 = time.perf_counter()
        table = failures_by_reason(frame)
        times.append(time.perf_counter() - t0)
    failing = int(failure_mask(frame).sum())
    assert int(table["rows"].sum()) == failing, (int(table["rows"].sum()), failing)
    sys.stdout.write(json.dumps({"rows": ns.rows, "failing": failing, "groups": len(table), "build": build,
                                 "first": times[0], "best": min(times), "repeats": ns.repeats}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
