"""A challenger trained on Sentiment140 plus the client's feedback, judged against the
champion on the same gate, registered with its lineage, and promoted if the gate says so.

1. The champion's recipe and data: its run's params (`recipe`), the same Sentiment140 sample
   (its `data_rows` and seed; its `data_hash` is checked).
2. The feedback, cleaned (`clean`); its latest share kept aside as the feedback gate (the
   challenger learns from earlier verdicts and is judged on later ones). Training rows that
   are manual-test tweets are dropped: the manual set is the other half of the gate.
3. The challenger: the recipe fitted on the Sentiment140 training split plus the feedback's
   training part, each feedback row weighted `feedback_weight`.
4. The threshold (`choose_client_threshold`): the training rule, prior-free, held on the
   client's tweets and on the Sentiment140 validation split at once. The client's scores
   are out-of-fold scores of the feedback's training part (each fold scored by a model
   fitted without it; scores of tweets a model was fitted on are over-confident). With fewer
   than `THRESHOLD_MIN_ROWS` rows or `THRESHOLD_MIN_PER_CLASS` of a label, too few to
   choose from, on the validation split alone, as `badbuzz train` does.
5. Both scored on the gate (the feedback gate and the manual test set), each at its own
   threshold; `gate.decide` says whether the challenger is promoted.
6. Unless a dry run: logged and registered (tags `challenged_version`, `feedback_rows`,
   `feedback_hash`, `gate_decision`), then `@champion` moved if promoted.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from badbuzz.bundle.model import Decision, ModelBundle
from badbuzz.errors import DataError, RegistryError
from badbuzz.metric_names import DEFAULT_THRESHOLD
from badbuzz.registry import CHAMPION, TrackingTarget, download_bundle, set_alias
from badbuzz.settings import TrainingSettings
from badbuzz.text import normalize_many
from training.classical.pipelines import embedding_type
from training.data.prepared import PreparedData
from training.data.sentiment140 import POSITIVE, data_hash, read_sentiment140
from training.data.sources import locate_manual_test, locate_training
from training.data.split import split_dataset, stratified_sample
from training.evaluation.metrics import Evaluation, evaluate_scores
from training.evaluation.thresholds import choose_client_threshold
from training.export.sklearn_bundle import write_sklearn_bundle
from training.feedback.clean import CleanFeedback, clean_feedback, split_gate, write_sentiment140
from training.feedback.gate import (
    FEEDBACK_GATE,
    MANUAL,
    GateDecision,
    GateRule,
    JudgedPart,
    decide,
)
from training.feedback.recipe import Recipe, UnsupportedChampion, champion_recipe
from training.feedback.store import read_feedback
from training.tracking.experiments import experiment_name, use_experiment
from training.tracking.runs import model_run, record

log = logging.getLogger(__name__)

THRESHOLD_MIN_ROWS = 100
THRESHOLD_MIN_PER_CLASS = 20
THRESHOLD_FOLDS = 3
STEPS = 7  # the progress callback is called this many times at most

Progress = Callable[[str], None]
Scores = dict[str, dict[str, float]]  # gate part -> metrics


@dataclass(frozen=True)
class RetrainConfig:
    feedback_weight: float = 5.0
    gate_share: float = 0.3
    min_feedback: int = 50
    seed: int = 42  # of the threshold folds
    rule: GateRule = field(default_factory=GateRule)
    sample: int | None = None  # Sentiment140 tweets; None: as many as the champion's run
    data: Path | None = None
    manual: Path | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class RetrainResult:
    champion_version: str
    challenger_version: str | None  # None on a dry run
    family: str
    feedback: CleanFeedback
    feedback_train_rows: int  # feedback rows the challenger was fitted on
    gate_rows: int
    manual_overlap: int  # feedback training rows dropped as manual-test tweets
    threshold_source: str  # "feedback" (out-of-fold) or "validation"
    thresholds: dict[str, float]  # "champion", "challenger"
    champion: Scores
    challenger: Scores
    decision: GateDecision
    promoted: bool
    seconds: float


def retrain(
    config: RetrainConfig,
    settings: TrainingSettings,
    target: TrackingTarget,
    database_url: str,
    progress: Progress,
) -> RetrainResult:
    started = time.perf_counter()
    client = MlflowClient()
    progress("finding the champion and its recipe")
    champion = champion_version(client, settings.model_name, target)
    run = client.get_run(str(champion.run_id))
    recipe = champion_recipe(str(champion.version), run.data.params, run.data.tags)

    progress("reading the feedback")
    feedback = clean_feedback(read_feedback(database_url))
    check_enough(feedback, config.min_feedback)
    feedback_train, gate = split_gate(feedback.rows, config.gate_share)

    progress("reading Sentiment140")
    data = champion_data(settings, config, recipe)
    manual_texts = set(normalize_many(data.manual["text"]))
    overlap = np.array([text in manual_texts for text in normalize_many(feedback_train["text"])])
    feedback_train = (
        feedback_train[~overlap].reset_index(drop=True) if overlap.size else feedback_train
    )
    fitting = FittingData(
        normalize_many(data.split.train["text"], recipe.normalization),
        data.split.train["label"].to_numpy(),
        normalize_many(feedback_train["text"], recipe.normalization),
        feedback_train["label"].to_numpy(),
        config.feedback_weight,
    )

    progress("scoring the feedback out of fold")
    client_scores = None
    if enough_for_threshold(fitting.feedback_labels):
        client_scores = out_of_fold_scores(recipe, fitting, config.seed)

    progress("training the challenger")
    pipeline = fitting.fit(recipe)
    gate_parts = {FEEDBACK_GATE: gate, MANUAL: data.manual_binary}
    with tempfile.TemporaryDirectory() as tmp:
        bundle_dir = write_sklearn_bundle(
            # the pyfunc keeps the folder's name: "bundle" is where serving looks for it
            Path(tmp) / "challenger" / "bundle",
            pipeline,
            recipe.normalization,
            DEFAULT_THRESHOLD,
        )
        bundle = ModelBundle.load(bundle_dir, settings.runtime_options())
        validation = data.split.validation
        validation_scores = bundle.predict_proba(validation["text"].tolist())
        chosen = choose_client_threshold(
            fitting.feedback_labels if client_scores is not None else np.zeros(0),
            client_scores if client_scores is not None else np.zeros(0),
            validation["label"].to_numpy(),
            validation_scores,
        )
        threshold, source = chosen.threshold, chosen.source

        progress(f"scoring champion {champion.version} and the challenger on the gate")
        (Path(tmp) / "champion").mkdir()
        champion_dir = download_bundle(
            f"models:/{settings.model_name}/{champion.version}", Path(tmp) / "champion"
        )
        champion_bundle = ModelBundle.load(champion_dir, settings.runtime_options())
        challenger_gate = score_gate(bundle, threshold, gate_parts)
        champion_gate = score_gate(champion_bundle, champion_bundle.threshold, gate_parts)
        challenger_scores = {part: scored.metrics for part, scored in challenger_gate.items()}
        champion_scores = {part: scored.metrics for part, scored in champion_gate.items()}
        decision = decide(judged_parts(champion_gate, challenger_gate), config.rule)
        version = None
        if not config.dry_run:
            progress("logging and registering the challenger")
            version = log_challenger(
                LoggedChallenger(
                    recipe,
                    data,
                    feedback,
                    len(feedback_train),
                    len(gate),
                    source,
                    threshold,
                    str(champion.version),
                    champion_scores,
                    challenger_scores,
                    decision,
                ),
                config,
                settings,
                target,
                bundle_dir,
            )
            if decision.promote:
                progress(f"moving @{CHAMPION} to version {version}")
                set_alias(client, settings.model_name, version)
    return RetrainResult(
        champion_version=str(champion.version),
        challenger_version=version,
        family=recipe.spec.model_family,
        feedback=feedback,
        feedback_train_rows=len(feedback_train),
        gate_rows=len(gate),
        manual_overlap=int(overlap.sum()),
        threshold_source=source,
        thresholds={"champion": champion_bundle.threshold, "challenger": threshold},
        champion=champion_scores,
        challenger=challenger_scores,
        decision=decision,
        promoted=decision.promote and not config.dry_run,
        seconds=time.perf_counter() - started,
    )


def champion_version(client: MlflowClient, name: str, target: TrackingTarget) -> ModelVersion:
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        raise RegistryError(
            f"no @{CHAMPION} version of {name!r} in {target.describe()}: train one with "
            "`badbuzz train baseline` and promote it with `badbuzz promote`"
        ) from error


@dataclass(frozen=True)
class NewFeedback:
    """Verdicts given since the champion was registered: what a scheduled run waits for."""

    champion_version: str
    since: datetime
    verdicts: int


def new_feedback(
    settings: TrainingSettings, target: TrackingTarget, database_url: str
) -> NewFeedback:
    champion = champion_version(MlflowClient(), settings.model_name, target)
    since = datetime.fromtimestamp(int(champion.creation_timestamp) / 1000, tz=UTC)
    return NewFeedback(str(champion.version), since, len(read_feedback(database_url, since)))


def check_enough(feedback: CleanFeedback, min_feedback: int) -> None:
    rows = len(feedback.rows)
    if rows < min_feedback:
        raise DataError(
            f"{rows} usable feedback rows ({feedback.verdicts} verdicts read; "
            f"{feedback.duplicates} duplicates and {feedback.contradictions} contradicting "
            f"texts dropped), fewer than --min-feedback {min_feedback}: collect more "
            "verdicts through the API's /feedback, or lower --min-feedback"
        )
    if feedback.rows["label"].nunique() < 2:
        raise DataError("every feedback row has the same label: the gate cannot compare models")


def champion_data(
    settings: TrainingSettings, config: RetrainConfig, recipe: Recipe
) -> PreparedData:
    """The champion's Sentiment140 data, as `prepare_data` built it: the same sample (its
    size from the run, or `--sample`), the same seed, the same split."""
    rows = config.sample or recipe.data_rows
    if rows is None:
        raise UnsupportedChampion(
            "the champion's run does not record how many Sentiment140 tweets it was trained "
            "on (it predates the data_rows param): pass --sample N, N as given to "
            "`badbuzz train` (or the training file's row count when none was given)"
        )
    source = locate_training(settings, config.data)
    frame = read_sentiment140(source.path, member=source.member)
    if rows < len(frame):
        frame = stratified_sample(frame, rows, recipe.seed)
    try:
        manual_source = locate_manual_test(settings, config.manual or source.path)
    except DataError:
        if config.manual:
            raise
        manual_source = locate_manual_test(settings)
    manual = read_sentiment140(manual_source.path, member=manual_source.member, keep_neutral=True)
    digest = data_hash(frame)
    if recipe.data_hash and digest != recipe.data_hash:
        log.warning(
            "the champion was trained on other Sentiment140 data (data_hash %s…, here %s… "
            "from %s): is it the same file and --sample?",
            recipe.data_hash[:12],
            digest[:12],
            source,
        )
    return PreparedData(source, manual_source, split_dataset(frame, recipe.seed), manual, digest)


@dataclass(frozen=True)
class FittingData:
    """Normalised texts and labels: Sentiment140's training split, and the feedback's
    training part with its weight."""

    base_texts: Sequence[str]
    base_labels: np.ndarray
    feedback_texts: Sequence[str]
    feedback_labels: np.ndarray
    feedback_weight: float

    def fit(self, recipe: Recipe, feedback_rows: np.ndarray | None = None) -> object:
        """The recipe fitted on all of it, or on the base plus `feedback_rows` only."""
        rows = np.arange(len(self.feedback_texts)) if feedback_rows is None else feedback_rows
        texts = [*self.base_texts, *(self.feedback_texts[i] for i in rows.tolist())]
        labels = np.r_[self.base_labels, self.feedback_labels[rows]]
        weights = np.r_[np.ones(len(self.base_texts)), np.full(len(rows), self.feedback_weight)]
        pipeline = recipe.pipeline()
        pipeline.fit(texts, labels, clf__sample_weight=weights)
        return pipeline


def enough_for_threshold(labels: np.ndarray) -> bool:
    counts = np.bincount(labels.astype(int), minlength=2)
    return len(labels) >= THRESHOLD_MIN_ROWS and counts.min() >= THRESHOLD_MIN_PER_CLASS


def out_of_fold_scores(recipe: Recipe, fitting: FittingData, seed: int) -> np.ndarray:
    """P(positive) of each feedback training row from a model fitted without its fold."""
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(THRESHOLD_FOLDS, shuffle=True, random_state=seed)
    scores = np.zeros(len(fitting.feedback_labels))
    for kept, held in folds.split(np.zeros(len(scores)), fitting.feedback_labels):
        pipeline = fitting.fit(recipe, kept)
        positive = list(pipeline.classes_).index(POSITIVE)  # type: ignore[attr-defined]
        held_texts = [fitting.feedback_texts[i] for i in held.tolist()]
        scores[held] = pipeline.predict_proba(held_texts)[:, positive]  # type: ignore[attr-defined]
    return scores


def score_gate(
    bundle: ModelBundle, threshold: float, parts: Mapping[str, pd.DataFrame]
) -> dict[str, Evaluation]:
    """Each gate part scored through the bundle (the serving path), at `threshold`."""
    return {
        part: evaluate_scores(
            frame["label"].to_numpy(), bundle.predict_proba(frame["text"].tolist()), threshold
        )
        for part, frame in parts.items()
    }


def judged_parts(
    champion: Mapping[str, Evaluation], challenger: Mapping[str, Evaluation]
) -> dict[str, JudgedPart]:
    """Each part's labels and both models' labels at their own thresholds."""

    def labels(evaluation: Evaluation) -> np.ndarray:
        return Decision(evaluation.threshold).is_positive(evaluation.p_positive).astype(int)

    return {
        part: JudgedPart(scored.y_true, labels(champion[part]), labels(scored))
        for part, scored in challenger.items()
    }


@dataclass(frozen=True)
class LoggedChallenger:
    recipe: Recipe
    data: PreparedData
    feedback: CleanFeedback
    feedback_train_rows: int
    gate_rows: int
    threshold_source: str
    threshold: float
    challenged_version: str
    champion: Scores
    challenger: Scores
    decision: GateDecision


def log_challenger(
    challenger: LoggedChallenger,
    config: RetrainConfig,
    settings: TrainingSettings,
    target: TrackingTarget,
    bundle_dir: Path,
) -> str:
    """One MLflow run in the champion's experiment: the recipe, the feedback's params, the
    gate metrics of both models, the cleaned feedback as a file; the registered version
    with its lineage tags. Returns the version."""
    recipe, feedback = challenger.recipe, challenger.feedback
    lineage = {
        "challenged_version": challenger.challenged_version,
        "feedback_rows": str(len(feedback.rows)),
        "feedback_hash": feedback.hash,
        "gate_decision": "promoted" if challenger.decision.promote else "refused",
    }
    params = {
        **recipe.params(),
        "feedback_weight": config.feedback_weight,
        "feedback_train_rows": challenger.feedback_train_rows,
        "feedback_gate_rows": challenger.gate_rows,
        "feedback_duplicates": feedback.duplicates,
        "feedback_contradictions": feedback.contradictions,
        "gate_share": config.gate_share,
        "gate_split": "time",
        "gate_metric": config.rule.metric,
        "gate_confidence": config.rule.confidence,
        "gate_resamples": config.rule.resamples,
        "gate_manual_tolerance": config.rule.manual_tolerance,
        "gate_min_positive_recall": config.rule.min_positive_recall,
        "threshold_source": challenger.threshold_source,
    }
    use_experiment(experiment_name(challenger.data.data_hash), target)
    family = recipe.spec.model_family
    emb = embedding_type(recipe.spec, recipe.vectorizer)
    with model_run(recipe.spec.name, family, emb, challenger.data, params) as run:
        mlflow.set_tags({**lineage, "gate_reason": challenger.decision.reason})
        for what, change in challenger.decision.differences.items():
            name = "gate_" + what.replace(" ", "_")
            mlflow.log_metrics(
                {f"{name}_change": change.value, f"{name}_low": change.low,
                 f"{name}_high": change.high}
            )  # fmt: skip
        for side, scores in (("", challenger.challenger), ("champion_", challenger.champion)):
            for part, metrics in scores.items():
                prefix = f"{side}{part}_gate_" if part == FEEDBACK_GATE else f"{side}{part}_"
                if side or part == FEEDBACK_GATE:  # record() logs the challenger's manual_*
                    mlflow.log_metrics({f"{prefix}{k}": v for k, v in metrics.items()})
        with tempfile.TemporaryDirectory() as tmp:
            csv = write_sentiment140(feedback.rows, Path(tmp) / "feedback.csv")
            mlflow.log_artifact(str(csv), "feedback")
        trained = record(run, bundle_dir, settings, register=True, threshold=challenger.threshold)
    assert trained.version is not None  # registered: record(register=True)
    client = MlflowClient()
    for key, value in {**lineage, "gate_reason": challenger.decision.reason}.items():
        client.set_model_version_tag(settings.model_name, trained.version, key, value)
    return trained.version
