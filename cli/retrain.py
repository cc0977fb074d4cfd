"""`badbuzz retrain`: a challenger trained on Sentiment140 plus the client's feedback, judged
against the champion on the same gate, and promoted only if the gate rule says so."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich import box
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from badbuzz.metric_names import DEFAULT_FLOOR, FLOOR_METRIC, KPI
from cli.options import DataOption, ManualOption, SampleOption
from cli.tables import console, errors

if TYPE_CHECKING:
    from training.feedback.challenger import RetrainResult

GateMetric = Literal["accuracy", "positive_precision"]  # training.feedback.gate.GateMetric
RecipeName = Literal[  # training.feedback.recipes
    "ensemble", "encoder", "tfidf_logreg", "champion"
]

app = typer.Typer()
log = logging.getLogger(__name__)

COMPARED = (KPI, FLOOR_METRIC, "accuracy", "negative_recall", "roc_auc")


RecipeOption = Annotated[
    RecipeName,
    typer.Option(
        help="How the challenger is made, whatever the champion's family: ensemble "
        "(the mean of the next two; the measured best), encoder (a logistic head on the "
        "frozen MiniLM's embeddings, an ONNX bundle), tfidf_logreg (TF-IDF + VADER + "
        "logistic regression), or champion (the champion's own recipe refitted; "
        "classical champions only).",
    ),
]
FeedbackWeightOption = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        help="Sample weight of each feedback row (a Sentiment140 row weighs 1): the "
        "client's verdicts are few and about the client's own tweets. Default: the "
        "recipe's measured best (ensemble, encoder and tfidf_logreg 20, champion 5).",
    ),
]
MinFeedbackOption = Annotated[
    int,
    typer.Option(min=10, help="Fewest usable feedback rows (after cleaning) worth retraining on."),
]
GateShareOption = Annotated[
    float,
    typer.Option(
        min=0.1,
        max=0.9,
        help="Share of the feedback kept out of training, as the gate: the latest verdicts.",
    ),
]
GateMetricOption = Annotated[
    GateMetric,
    typer.Option(
        help="What the challenger must gain on the feedback gate (the other must not "
        "fall): accuracy, or the KPI positive_precision.",
    ),
]
ConfidenceOption = Annotated[
    float,
    typer.Option(
        min=0.5,
        max=0.999,
        help="Level of the paired-bootstrap interval of the gain on the feedback gate: "
        "promoted only when the whole interval is above 0.",
    ),
]
ManualToleranceOption = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="The challenger's manual-test accuracy may be at most this below the "
        "champion's (the manual set measures a difference with a standard error of 1 to "
        "1.7 points).",
    ),
]
MinPositiveRecallOption = Annotated[
    float,
    typer.Option(
        min=0.0,
        max=1.0,
        help="The challenger's positive recall floor, on the feedback gate and the "
        "manual test set.",
    ),
]
RetrainSeedOption = Annotated[
    int, typer.Option(help="Seed of the threshold folds and the gate's bootstrap.")
]
NeutralBudgetOption = Annotated[
    float,
    typer.Option(
        "--neutral-max-negatives-lost",
        min=0.0,
        max=0.5,
        help="The neutral head's budget: the largest share of the client's negative verdicts "
        "it may call neutral (out of fold). A head is fitted when the verdicts hold 30 neutral "
        "ones (right_label neutral, or a neutral prediction judged right).",
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option(help="Train and compare only: log, register and promote nothing."),
]
MinNewFeedbackOption = Annotated[
    int,
    typer.Option(
        min=0,
        help="Do nothing (exit 0) unless this many verdicts came in since the champion was "
        "registered: for a scheduled run (cron). 0: always retrain.",
    ),
]
OutcomeFileOption = Annotated[
    Path | None,
    typer.Option(
        dir_okay=False,
        help="Also write the outcome here as JSON (outcome: skipped, promoted or refused, "
        "in a dry run what the gate decided; reason; champion_version; new_version): for a "
        "scheduler, such as the API's BADBUZZ_RETRAIN_CRON job. An error writes none.",
    ),
]


@app.command("retrain")
def retrain(
    recipe: RecipeOption = "ensemble",
    feedback_weight: FeedbackWeightOption = None,
    min_feedback: MinFeedbackOption = 50,
    gate_share: GateShareOption = 0.3,
    gate_metric: GateMetricOption = "accuracy",
    confidence: ConfidenceOption = 0.95,
    manual_tolerance: ManualToleranceOption = 0.02,
    min_positive_recall: MinPositiveRecallOption = DEFAULT_FLOOR,
    seed: RetrainSeedOption = 42,
    neutral_max_negatives_lost: NeutralBudgetOption = 0.12,
    sample: SampleOption = None,
    data: DataOption = None,
    manual: ManualOption = None,
    dry_run: DryRunOption = False,
    min_new_feedback: MinNewFeedbackOption = 0,
    outcome_file: OutcomeFileOption = None,
) -> None:
    """Fit a challenger (--recipe) on Sentiment140 plus the feedback in the API's database
    (BADBUZZ_DATABASE_URL), compare it with the champion on the feedback gate and the manual
    test set, register it with its lineage, and move @champion if it passes the gate.
    --sample: default, the champion's for --recipe champion, else 25,000."""
    from badbuzz.registry import configure_tracking
    from badbuzz.settings import OpsSettings, TrainingSettings
    from training.feedback.challenger import STEPS, RetrainConfig, new_feedback
    from training.feedback.challenger import retrain as run_retrain
    from training.feedback.gate import GateRule

    settings = TrainingSettings()
    database_url = OpsSettings().resolved_database_url
    target = configure_tracking(settings)
    if min_new_feedback:
        new = new_feedback(settings, target, database_url)
        if new.verdicts < min_new_feedback:
            reason = (
                f"{new.verdicts} new verdicts since version {new.champion_version}, the "
                f"champion, was registered ({new.since:%Y-%m-%d %H:%M} UTC); "
                f"--min-new-feedback is {min_new_feedback}: nothing to do."
            )
            console.print(reason)
            write_outcome(outcome_file, "skipped", reason, new.champion_version, None)
            return
    config = RetrainConfig(
        recipe=recipe,
        feedback_weight=feedback_weight,
        gate_share=gate_share,
        min_feedback=min_feedback,
        seed=seed,
        max_negatives_lost=neutral_max_negatives_lost,
        rule=GateRule(gate_metric, manual_tolerance, min_positive_recall, confidence, seed=seed),
        sample=sample,
        data=data,
        manual=manual,
        dry_run=dry_run,
    )
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=errors
    ) as progress:
        task = progress.add_task("retraining", total=STEPS)

        def step(description: str) -> None:
            progress.update(task, description=description, advance=1)
            log.info(description)  # a line per step, kept above the bar

        result = run_retrain(config, settings, target, database_url, step)
    console.print(comparison_table(result))
    console.print(differences_table(result))
    show_outcome(result, dry_run, target.describe())
    write_outcome(
        outcome_file,
        "promoted" if result.decision.promote else "refused",
        result.decision.reason,
        result.champion_version,
        result.challenger_version,
    )


def write_outcome(
    path: Path | None,
    outcome: Literal["skipped", "promoted", "refused"],
    reason: str,
    champion_version: str | None,
    new_version: str | None,
) -> None:
    """The run's outcome as JSON, for the scheduler that started it (written last: a run that
    failed before leaves no file)."""
    if path is None:
        return
    record = {
        "outcome": outcome,
        "reason": reason,
        "champion_version": champion_version,
        "new_version": new_version,  # the registered challenger (None in a dry run)
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")


def comparison_table(result: RetrainResult) -> Table:
    """Champion and challenger on each gate part, at their own thresholds."""
    challenger = result.challenger_version or "dry run"
    table = Table(
        title=f"Champion v{result.champion_version} ({result.champion_family}) vs challenger "
        f"({challenger}, {result.family}: --recipe {result.recipe}, verdicts weighing "
        f"{result.feedback_weight:g})",
        caption="feedback: the latest verdicts, kept out of training ("
        f"{result.gate_rows} tweets); manual: Sentiment140's manual test set. Each model "
        "at its own threshold.",
        box=box.SIMPLE_HEAD,
    )
    for header in ("part", "metric", "champion", "challenger", "change"):
        table.add_column(header, justify="left" if header in ("part", "metric") else "right")
    for part in result.challenger:
        for metric in COMPARED:
            old, new = result.champion[part][metric], result.challenger[part][metric]
            table.add_row(part, metric, f"{old:.3f}", f"{new:.3f}", f"{new - old:+.3f}")
        table.add_section()
    old_t, new_t = result.thresholds["champion"], result.thresholds["challenger"]
    table.add_row(
        "", f"threshold ({result.threshold_source})", f"{old_t:.3f}", f"{new_t:.3f}",
        f"{new_t - old_t:+.3f}",
    )  # fmt: skip
    return table


def differences_table(result: RetrainResult) -> Table:
    """The gate's paired differences, challenger - champion, with their intervals."""
    confidence = next(iter(result.decision.differences.values())).confidence
    table = Table(
        title="Challenger - champion, each at its own threshold",
        caption=f"low, high: the {confidence:.0%} interval of the change (paired bootstrap on "
        "the same tweets)",
        box=box.SIMPLE_HEAD,
    )
    for header in ("on", "change", "low", "high"):
        table.add_column(header, justify="left" if header == "on" else "right")
    for what, change in result.decision.differences.items():
        table.add_row(what, f"{change.value:+.3f}", f"{change.low:+.3f}", f"{change.high:+.3f}")
    return table


def show_outcome(result: RetrainResult, dry_run: bool, store: str) -> None:
    feedback = result.feedback
    console.print(
        f"Feedback: {feedback.verdicts} verdicts, {len(feedback.rows)} usable "
        f"({feedback.unknown_labels} without a label, "
        f"{feedback.duplicates} duplicates, {feedback.contradictions} contradicting texts "
        f"dropped); {result.feedback_train_rows} trained on"
        + (
            f" ({result.manual_overlap} manual-test tweets left out)"
            if result.manual_overlap
            else ""
        )
        + f", {result.gate_rows} in the gate; hash {feedback.hash[:12]}"
    )
    console.print(neutral_line(result))
    verdict = "[bold green]" if result.decision.promote else "[bold red]"
    console.print(f"Gate: {verdict}{result.decision.reason}[/]")
    if dry_run:
        console.print("Dry run: nothing was logged, registered or promoted.")
    elif result.promoted:
        console.print(
            f"@champion -> version {result.challenger_version} (was {result.champion_version}) "
            f"in {store}. A running API serves it after POST /admin/reload, or at its next "
            "registry check."
        )
    else:
        console.print(
            f"Version {result.challenger_version} registered; @champion stays on version "
            f"{result.champion_version} ({store})."
        )
    console.print(f"Retrained in {result.seconds:.0f} s")


def neutral_line(result: RetrainResult) -> str:
    neutral = result.neutral
    if neutral is None:
        return (
            "Neutral head: none (fewer than 30 neutral verdicts): the neutral band, where the "
            "champion was evaluated on a client's export, says what is neutral"
        )
    return (
        f"Neutral head: fitted on {neutral.rows} verdicts ({neutral.neutral_rows} neutral); "
        f"out of fold it finds {neutral.out_of_fold_neutral_found:.0%} of the neutral ones "
        f"and calls {neutral.out_of_fold_negatives_lost:.0%} of the negatives neutral"
    )
