"""Writing result frames chunk by chunk to CSV or Parquet, so a huge campaign never sits in memory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


class ResultSink:
    """Append result chunks to ``.csv`` (header once) or ``.parquet`` (one row group per chunk)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows = 0
        self._parquet = self.path.suffix.lower() in (".parquet", ".pq")
        self._writer: Any = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._parquet and self.path.exists():
            self.path.unlink()

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
            frame.to_csv(self.path, mode="a", header=self.rows == 0, index=True, index_label="row")
        self.rows += len(frame)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
