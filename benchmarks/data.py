"""Synthetic recipient CSVs and the request bodies buka_nb should send for them.

The CSV looks like a real export: numbers written four ways (``+44 7911 123456``, ``0044...``,
``+44...`` and bare digits), 1% unusable numbers (empty, too short, letters) and 0.5% repeats of an
earlier number, plus a ``name`` column for the template. :func:`payloads` returns, for the same
rows, the exact JSON bodies buka_nb builds (same batches, groups, orderIds): the "raw httpx"
baseline sends these pre-built.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TEMPLATE = "Hi {name}, your order ships today. Reply STOP to opt out."
APP_ID = "demoSms1"
NAMES = ["Ann", "Bob", "Chen", "Dara", "Eve", "Femi", "Gita", "Hugo", "Ines", "Jon", "Kemi", "Li", "Mo",
         "Nia", "Omar", "Pia", "Quinn", "Ravi", "Sara", "Tom", "Uma", "Vic", "Wen", "Xi", "Yara", "Zed"]
BATCH = 1000
INVALID_SHARE, DUPLICATE_SHARE = 0.01, 0.005


def _rows(n: int, seed: int = 7) -> tuple[list[str], list[str], list[str | None]]:
    """(raw phone text, name, normalised number or None when buka_nb must refuse the row)."""
    rng = np.random.default_rng(seed)
    # Unique subscriber numbers: country code + a permutation of a large range, fixed width.
    ccs = np.array(["44", "91", "234", "1"])
    widths = {"44": 10, "91": 10, "234": 10, "1": 10}
    cc = ccs[rng.integers(0, len(ccs), n)]
    # i -> i * p mod 9e9 is a bijection (p prime, not a factor of 9e9): unique, scattered numbers
    subscriber = (np.arange(n, dtype=np.int64) * 1_000_003 + seed) % 9_000_000_000 + 1_000_000_000
    style = rng.integers(0, 4, n)
    kind = rng.random(n)
    names = np.array(NAMES)[rng.integers(0, len(NAMES), n)].tolist()
    raw: list[str] = []
    norm: list[str | None] = []
    seen: set[str] = set()
    for i in range(n):
        c = cc[i]
        digits = c + str(int(subscriber[i])).zfill(widths[c])
        if kind[i] < INVALID_SHARE:
            bad = ("", "12345", digits[:4] + "x" + digits[5:])[i % 3]
            raw.append(bad)
            norm.append(None)
            continue
        if kind[i] < INVALID_SHARE + DUPLICATE_SHARE and i > 0 and norm[i - 1] is not None:
            digits = norm[i - 1]
        s = style[i]
        text = (f"+{digits}" if s == 0 else f"00{digits}" if s == 1 else digits if s == 2
                else f"+{digits[:len(c)]} {digits[len(c):len(c) + 4]} {digits[len(c) + 4:]}")
        raw.append(text)
        norm.append(None if digits in seen else digits)
        seen.add(digits)
    return raw, names, norm


def write_csv(path: str | Path, n: int, seed: int = 7) -> dict[str, int]:
    """Write an *n*-row ``phone,name`` CSV; returns counts of valid, invalid and duplicate rows."""
    raw, names, norm = _rows(n, seed)
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        fh.write("phone,name\n")
        fh.writelines(f"{p},{m}\n" for p, m in zip(raw, names))
    valid = sum(x is not None for x in norm)
    return {"rows": n, "valid": valid, "refused": n - valid}


def payloads(n: int, order_prefix: str, seed: int = 7, chunksize: int = 100_000) -> list[bytes]:
    """The ``sendSms/batch`` bodies buka_nb sends for the CSV :func:`write_csv` writes.

    buka_nb reads the CSV in chunks of *chunksize* rows and never lets a request span two chunks;
    inside a request, groups follow the order their text first appears and keep row order.
    """
    raw, names, norm = _rows(n, seed)
    bodies = []
    for chunk_start in range(0, n, chunksize):
        good = [i for i in range(chunk_start, min(n, chunk_start + chunksize)) if norm[i] is not None]
        for start in range(0, len(good), BATCH):
            groups: dict[str, dict[str, list[str]]] = {}
            for i in good[start:start + BATCH]:
                g = groups.setdefault(TEMPLATE.format(name=names[i]), {"numbers": [], "orders": []})
                g["numbers"].append(norm[i])
                g["orders"].append(f"{order_prefix}{i}")
            array = [{"numbers": ",".join(g["numbers"]), "content": t, "orderId": ",".join(g["orders"])}
                     for t, g in groups.items()]
            bodies.append(json.dumps({"appId": APP_ID, "array": array}, ensure_ascii=False,
                                     separators=(",", ":")).encode())
    return bodies
