"""`badbuzz tune`: an Optuna study over a network's hyper-parameters."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

import typer

from cli.options import (
    DataOption,
    EmbeddingOption,
    EvalDataOption,
    GloveDimOption,
    GloveOption,
    LabelColumnOption,
    ManualOption,
    SampleOption,
    SeedOption,
    TextColumnOption,
    client_source,
)
from cli.tables import console, values_table
from cli.train import check_embedding, quiet_libraries, show_results, start_run

app = typer.Typer()


@app.command("tune")
def tune(
    trials: Annotated[int, typer.Option(min=1, help="Optuna trials to run.")] = 20,
    architecture: Annotated[
        Literal["dense", "lstm", "bilstm"], typer.Option(help="The network to tune.")
    ] = "bilstm",
    embedding: EmbeddingOption = "word2vec",
    glove: GloveOption = None,
    glove_dim: GloveDimOption = None,
    epochs: Annotated[
        int, typer.Option(min=1, help="Most epochs per trial (pruned trials stop earlier).")
    ] = 4,
    timeout: Annotated[
        int | None, typer.Option(min=1, help="Stop starting trials after this many seconds.")
    ] = None,
    tune_max_len: Annotated[
        bool, typer.Option(help="Also search the tokens kept per tweet (24, 32, 48).")
    ] = False,
    train_best: Annotated[
        bool,
        typer.Option(help="Then train, evaluate and register a network with the best params."),
    ] = False,
    final_epochs: Annotated[
        int, typer.Option(min=1, help="Most epochs of the --train-best network.")
    ] = 8,
    data: DataOption = None,
    manual: ManualOption = None,
    eval_data: EvalDataOption = None,
    text_column: TextColumnOption = "text",
    label_column: LabelColumnOption = None,
    sample: SampleOption = None,
    seed: SeedOption = 42,
) -> None:
    """Optuna search over units, dropout, learning rate, batch size and frozen/trainable
    vectors (median pruning on validation loss); every trial a nested MLflow run, the best
    params on the parent run."""
    check_embedding(embedding, glove)
    quiet_libraries()
    from training.networks.fit import DeepConfig, train_networks
    from training.networks.tune import TuneConfig, run_study

    client = client_source(eval_data, text_column, label_column)
    run = start_run(data, manual, sample, seed, client)
    base = DeepConfig(
        architectures=(architecture,),
        embedding=embedding,
        glove_path=glove,
        glove_dim=glove_dim,
        epochs=epochs,
        seed=seed,
    )
    result = run_study(
        TuneConfig(trials=trials, timeout=timeout, tune_max_len=tune_max_len),
        base,
        run.data,
        run.target,
    )
    best_params = {**result.best_params, "val_loss": result.best_value}
    title = f"Best of {result.complete} complete, {result.pruned} pruned trials"
    console.print(values_table(best_params, title, header="best"))
    console.print(f"Study logged as run {result.run_id} in {run.target.describe()}")
    if train_best:
        best = replace(result.best_config(base), epochs=final_epochs)
        show_results(run, train_networks(best, run.data, run.settings, run.target))
