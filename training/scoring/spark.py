"""Scoring an archive on Spark: the same registered model, loaded by MLflow's `spark_udf` in
each executor's Python (the pyfunc of `training.tracking.pyfunc` wraps the bundle), on local
Spark (`local[N]`) or a cluster given by its master URL.

Spark reads and writes the CSV dialect of the local engine (`training.scoring.archive`), so
both engines keep every row, and the same ids, texts and columns. The output is Spark's: a
folder of CSV part files with a header each, which, read in name order, hold the rows in the
input's order. A CSV with quoted line breaks cannot be split, so Spark reads it in one task;
the rows are then spread over the executors for scoring.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from badbuzz.errors import DataError
from training.scoring.archive import SCORE_COLUMNS, ScoringRun, check_row_counts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RESULT_TYPE = "label string, probability_positive double"  # the pyfunc's two columns
ROW = "_badbuzz_row"  # the input's order, carried while the rows are spread

# The local engine's dialect (pandas' defaults), as Spark's CSV options.
READ_OPTIONS = {
    "header": "true",
    "multiLine": "true",  # a quoted line break is inside a tweet, not between two rows
    "quote": '"',
    "escape": '"',  # a quote inside a quoted field is doubled (""), not backslashed
    "encoding": "UTF-8",  # a BOM is dropped from the header
    "mode": "FAILFAST",  # a malformed row stops the job; it is never dropped or nulled
}
WRITE_OPTIONS = {
    "header": "true",
    "quote": '"',
    "escape": '"',
    "ignoreLeadingWhiteSpace": "false",  # Spark's writer trims fields unless told not to
    "ignoreTrailingWhiteSpace": "false",
    "lineSep": "\n",
}


def line_separator(path: Path) -> str | None:
    """The file's own line ending, read from its header line: told to Spark, it keeps a
    quoted line break as it is (a CRLF inside a tweet stays CRLF, as pandas keeps it).
    None for a folder or a header with no line ending: Spark then finds the ending itself."""
    if not path.is_file():
        return None
    with path.open("rb") as file:
        header = file.readline(1 << 20)
    if header.endswith(b"\r\n"):
        return "\r\n"
    return "\n" if header.endswith(b"\n") else None


def read_tweets(spark: SparkSession, path: Path) -> DataFrame:
    """Every row of the CSV at `path` (a file, or a folder of them), every column a string,
    an empty field an empty string as the local engine reads it (not Spark's null)."""
    reader = spark.read.options(**READ_OPTIONS)
    separator = line_separator(path)
    if separator is not None:
        reader = reader.option("lineSep", separator)
    return reader.csv(str(path)).na.fill("")


def write_rows(rows: DataFrame, out: Path) -> None:
    rows.write.mode("overwrite").options(**WRITE_OPTIONS).csv(str(out))


def count_written(spark: SparkSession, out: Path) -> int:
    return spark.read.options(**READ_OPTIONS).option("lineSep", "\n").csv(str(out)).count()


def spread_in_order(rows: DataFrame, partitions: int) -> DataFrame:
    """`rows` over `partitions` partitions, partition i before partition i+1 and each in the
    input's order, so that the part files, in name order, are the input's order."""
    from pyspark.sql import functions as F

    indexed = rows.withColumn(ROW, F.monotonically_increasing_id())
    return indexed.repartitionByRange(partitions, ROW).sortWithinPartitions(ROW)


def score_on_spark(
    model_uri: str,
    path: Path,
    out: Path,
    text_column: str = "text",
    master: str = "local[*]",
) -> ScoringRun:
    """Write the folder `out`: every row of `path` with `label` and `probability_positive`
    added. It takes its name only once read back with as many rows as were read
    (`RowCountError` otherwise)."""
    import mlflow.pyfunc
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    if master.startswith("local"):  # the workers run this Python (a cluster: its own setting)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName("badbuzz-score")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    try:
        start = time.perf_counter()
        tweets = read_tweets(spark, path)
        if text_column not in tweets.columns:
            raise DataError(
                f"{path}: no column {text_column!r} (the header has "
                f"{', '.join(tweets.columns)}); choose one with --text-column"
            )
        read = tweets.count()
        # env_manager="local": the executors run this environment's Python, badbuzz included
        predict = mlflow.pyfunc.spark_udf(
            spark, model_uri, result_type=RESULT_TYPE, env_manager="local"
        )
        spread = spread_in_order(tweets, spark.sparkContext.defaultParallelism)
        scored = spread.withColumn(
            "_scores", predict(F.struct(F.col(text_column).alias("text")))
        ).select(*tweets.columns, *(F.col(f"_scores.{name}").alias(name) for name in SCORE_COLUMNS))
        partial = out.with_name(out.name + ".partial")  # `out` appears only when complete
        write_rows(scored, partial)
        check_row_counts(read, count_written(spark, partial), path, partial)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        partial.replace(out)
        return ScoringRun(read, time.perf_counter() - start, out)
    finally:
        spark.stop()
