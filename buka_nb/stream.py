"""Writing result frames chunk by chunk to CSV or Parquet, so a huge campaign never sits in memory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) with ``'``.

    Results echo what was uploaded (an invalid recipient is shown as written), so a CSV opened in
    Excel must not execute it. Returns a new frame only when something had to change.
    """
    changed = None
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind not in "OU" and str(values.dtype) != "string":
            continue
        risky = values.astype("string").str.startswith(FORMULA_START).fillna(False)
        if risky.any():
            changed = frame.copy() if changed is None else changed
            changed[column] = values.mask(risky, "'" + values.astype("string"))
    return frame if changed is None else changed


def read_results(path: str | Path) -> pd.DataFrame:
    """A results file a campaign wrote (``.csv`` or ``.parquet``) in the result schema's dtypes.

    A CSV's ``row`` column becomes the index again, as integers when every label is one.
    """
    import pandas as pd

    from .schema import conform

    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, index_col="row", dtype=str, keep_default_na=False, na_values=[""])
        numeric = pd.to_numeric(frame.index, errors="coerce")
        if not numeric.isna().any():
            frame.index = numeric.astype("int64")
    return conform(frame)


class ResultSink:
    """Append result chunks to ``.csv`` (header once) or ``.parquet`` (one row group per chunk)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows = 0
        self._parquet = self.path.suffix.lower() in (".parquet", ".pq")
        self._writer: Any = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # an earlier results file is replaced by the first chunk, not before: a campaign that stops before
        # its first chunk (a journal that cannot be opened, bad credentials) leaves it as it was

    def __enter__(self) -> ResultSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, frame: pd.DataFrame) -> None:
        if self._parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=True)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.path, table.schema)
            self._writer.write_table(table)
        else:
            neutralise_formulas(frame).to_csv(self.path, mode="a" if self.rows else "w", header=self.rows == 0,
                                              index=True, index_label="row")
        self.rows += len(frame)

    def patch(self, frames: list[pd.DataFrame]) -> None:
        """Rewrite the rows of *frames* (by index) in what was written: rows reconciled after their chunk went out.

        Reads the file back and writes it again, so it costs what the file is; it happens only when a
        run's last reconciliation resolved rows that were written as unknown.
        """
        import pandas as pd

        self.close()
        updates = pd.concat(frames)
        if self._parquet:
            written = pd.read_parquet(self.path)
            written.loc[updates.index, updates.columns] = updates
            written.to_parquet(self.path)
        else:
            written = read_results(self.path)
            written.loc[updates.index, updates.columns] = updates
            neutralise_formulas(written).to_csv(self.path, index=True, index_label="row")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
