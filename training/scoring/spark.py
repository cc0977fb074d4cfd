"""Scoring an archive on Spark: the same registered model, loaded by MLflow's `spark_udf` in
each executor's Python (the pyfunc of `training.tracking.pyfunc` wraps the bundle), on local
Spark (`local[N]`) or a cluster given by its master URL.

The output is Spark's: a folder of CSV part files with a header each, one per partition,
so a cluster never funnels the whole archive through one task.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from badbuzz.errors import DataError
from training.scoring.archive import SCORE_COLUMNS, ScoringRun

RESULT_TYPE = "label string, probability_positive double"  # the pyfunc's two columns


def score_on_spark(
    model_uri: str,
    path: Path,
    out: Path,
    text_column: str = "text",
    master: str = "local[*]",
) -> ScoringRun:
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
        tweets = (
            spark.read.option("header", True)
            .option("multiLine", True)
            .option("escape", '"')
            .option("mode", "FAILFAST")
            .csv(str(path))
        )
        if text_column not in tweets.columns:
            raise DataError(
                f"{path}: no column {text_column!r} (the header has "
                f"{', '.join(tweets.columns)}); choose one with --text-column"
            )
        # env_manager="local": the executors run this environment's Python, badbuzz included
        predict = mlflow.pyfunc.spark_udf(
            spark, model_uri, result_type=RESULT_TYPE, env_manager="local"
        )
        scored = tweets.withColumn(
            "_scores", predict(F.struct(F.col(text_column).alias("text")))
        ).select(*tweets.columns, *(F.col(f"_scores.{name}").alias(name) for name in SCORE_COLUMNS))
        scored.write.mode("overwrite").option("header", True).csv(str(out))
        count = spark.read.option("header", True).csv(str(out)).count()
        return ScoringRun(count, time.perf_counter() - start, out)
    finally:
        spark.stop()
