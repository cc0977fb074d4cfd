"""A challenger trained on Sentiment140 plus the client's feedback, judged against the
champion on the same gate, registered with its lineage, and promoted if the gate says so.

1. The recipe (`--recipe`, `recipes`): by default a logistic head on the frozen MiniLM
   encoder's embeddings (`encoder_recipe`), whatever the champion's family; `tfidf_logreg`;
   or the champion's own recipe refitted (`recipe`: its run's params, the same Sentiment140
   sample, its `data_rows` and seed; its `data_hash` is checked). A recipe other than the
   champion's reads `--sample` Sentiment140 tweets (default `DEFAULT_SAMPLE`).
2. The feedback, cleaned (`clean`); its latest share kept aside as the feedback gate (the
   challenger learns from earlier verdicts and is judged on later ones). Training rows that
   are manual-test tweets are dropped: the manual set is the other half of the gate.
3. The challenger: the recipe fitted on the Sentiment140 training split plus the feedback's
   training part, each feedback row weighted `feedback_weight` (default: the recipe's).
4. The threshold (`choose_client_threshold`): the training rule, prior-free, held on the
   client's tweets and on the Sentiment140 validation split at once. The client's scores
   are out-of-fold scores of the feedback's training part (each fold scored by a model
   fitted without it; scores of tweets a model was fitted on are over-confident). With fewer
   than `THRESHOLD_MIN_ROWS` rows or `THRESHOLD_MIN_PER_CLASS` of a label, too few to
   choose from, on the validation split alone, as `badbuzz train` does.
5. Both scored on the gate (the feedback gate and the manual test set), each at its own
   threshold; `gate.decide` says whether the challenger is promoted.
6. Unless a dry run: logged and registered (tags `challenged_version`, `feedback_rows`,
   `feedback_hash`, `gate_decision`, `retrain_recipe`), then `@champion` moved if promoted.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from badbuzz.bundle.model import Decision, ModelBundle, RuntimeOptions
from badbuzz.errors import DataError, RegistryError
from badbuzz.registry import CHAMPION, TrackingTarget, download_bundle, set_alias
from badbuzz.settings import TrainingSettings
from badbuzz.text import normalize_many
from training.data.client import NEUTRAL, ClientData, ClientSource, read_client
from training.data.prepared import PreparedData
from training.data.sentiment140 import data_hash, read_sentiment140
from training.data.sources import locate_manual_test, locate_training
from training.data.split import split_dataset, stratified_sample
from training.evaluation.metrics import Evaluation, evaluate_scores
from training.evaluation.neutral import MIN_NEUTRAL
from training.evaluation.thresholds import choose_client_threshold
from training.feedback.clean import CleanFeedback, clean_feedback, split_gate, write_sentiment140
from training.feedback.fitting import (
    ChallengerRecipe,
    FittingData,
    enough_for_threshold,
    out_of_fold_scores,
)
from training.feedback.gate import (
    FEEDBACK_GATE,
    MANUAL,
    GateDecision,
    GateRule,
    JudgedPart,
    decide,
)
from training.feedback.neutral_head import (
    DEFAULT_MAX_NEGATIVES_LOST,
    FittedNeutralHead,
    neutral_head_for,
)
from training.feedback.recipe import Recipe, UnsupportedChampion
from training.feedback.recipes import (
    DEFAULT_RECIPE,
    DEFAULT_SAMPLE,
    DEFAULT_SEED,
    RecipeName,
    build_recipe,
)
from training.feedback.store import read_feedback
from training.tracking.experiments import experiment_name, use_experiment
from training.tracking.runs import model_run, record

log = logging.getLogger(__name__)

STEPS = 8  # the progress callback is called this many times at most

Progress = Callable[[str], None]
Scores = dict[str, dict[str, float]]  # gate part -> metrics


@dataclass(frozen=True)
class RetrainConfig:
    recipe: RecipeName = DEFAULT_RECIPE
    feedback_weight: float | None = None  # None: the recipe's measured best
    gate_share: float = 0.3
    min_feedback: int = 50
    seed: int = 42  # of the threshold folds and the neutral head's
    # the neutral head's budget: at most this share of the client's negatives called neutral
    max_negatives_lost: float = DEFAULT_MAX_NEGATIVES_LOST
    rule: GateRule = field(default_factory=GateRule)
    # Sentiment140 tweets; None: the champion's run's (--recipe champion), else DEFAULT_SAMPLE
    sample: int | None = None
    data: Path | None = None
    manual: Path | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class RetrainResult:
    champion_version: str
    challenger_version: str | None  # None on a dry run
    recipe: str
    family: str
    champion_family: str
    feedback_weight: float
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
    neutral: FittedNeutralHead | None  # the challenger's neutral head; None: too few neutral


def retrain(
    config: RetrainConfig,
    settings: TrainingSettings,
    target: TrackingTarget,
    database_url: str,
    progress: Progress,
) -> RetrainResult:
    started = time.perf_counter()
    client = MlflowClient()
    progress("finding the champion and the recipe")
    champion = champion_version(client, settings.model_name, target)
    run = client.get_run(str(champion.run_id))
    recipe = build_recipe(
        config.recipe,
        str(champion.version),
        run.data.params,
        run.data.tags,
        settings.data_cache_dir / "embeddings",
    )
    weight = recipe.default_weight if config.feedback_weight is None else config.feedback_weight
    inputs = read_inputs(config, settings, recipe, database_url, progress)
    with tempfile.TemporaryDirectory() as tmp:
        fitted = fit_challenger(recipe, inputs, weight, config, settings, Path(tmp), progress)
        progress(f"scoring champion {champion.version} and the challenger on the gate")
        champion_bundle = load_champion(settings, str(champion.version), Path(tmp) / "champion")
        gate_parts = {FEEDBACK_GATE: inputs.gate, MANUAL: inputs.data.manual_binary}
        challenger_gate = score_gate(fitted.bundle, fitted.threshold, gate_parts)
        champion_gate = score_gate(champion_bundle, champion_bundle.threshold, gate_parts)
        challenger_scores = {part: scored.metrics for part, scored in challenger_gate.items()}
        champion_scores = {part: scored.metrics for part, scored in champion_gate.items()}
        decision = decide(judged_parts(champion_gate, challenger_gate), config.rule)
        version = None
        if not config.dry_run:
            progress("logging and registering the challenger")
            logged = LoggedChallenger(
                recipe,
                weight,
                inputs.data,
                inputs.feedback,
                len(inputs.feedback_train),
                len(inputs.gate),
                fitted.threshold_source,
                fitted.threshold,
                str(champion.version),
                champion_scores,
                challenger_scores,
                decision,
                fitted.neutral,
            )
            version = log_challenger(
                logged, config, settings, target, fitted.bundle_dir, fitted.runtime
            )
            if decision.promote:
                progress(f"moving @{CHAMPION} to version {version}")
                set_alias(client, settings.model_name, version)
    return RetrainResult(
        champion_version=str(champion.version),
        challenger_version=version,
        recipe=recipe.name,
        family=recipe.model_family,
        champion_family=run.data.tags.get("model_family", "?"),
        feedback_weight=weight,
        feedback=inputs.feedback,
        feedback_train_rows=len(inputs.feedback_train),
        gate_rows=len(inputs.gate),
        manual_overlap=inputs.manual_overlap,
        threshold_source=fitted.threshold_source,
        thresholds={"champion": champion_bundle.threshold, "challenger": fitted.threshold},
        champion=champion_scores,
        challenger=challenger_scores,
        decision=decision,
        promoted=decision.promote and not config.dry_run,
        seconds=time.perf_counter() - started,
        neutral=fitted.neutral,
    )


@dataclass(frozen=True)
class RetrainInputs:
    """What the challenger learns from and is judged on."""

    feedback: CleanFeedback  # every verdict's row, neutral ones too: the neutral head's
    feedback_train: pd.DataFrame  # the earlier negative and positive verdicts, less manual ones
    gate: pd.DataFrame  # the feedback gate: the latest negative and positive verdicts
    manual_overlap: int  # feedback training rows dropped as manual-test tweets
    data: PreparedData  # Sentiment140


def polar(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["label"] != NEUTRAL].reset_index(drop=True)


def read_inputs(
    config: RetrainConfig,
    settings: TrainingSettings,
    recipe: ChallengerRecipe,
    database_url: str,
    progress: Progress,
) -> RetrainInputs:
    """The cleaned feedback split into its training part and the gate, and Sentiment140.
    Training rows that are manual-test tweets are dropped: the manual set is the other half
    of the gate."""
    progress("reading the feedback")
    feedback = clean_feedback(read_feedback(database_url))
    check_enough(feedback, config.min_feedback)
    # neutral verdicts teach only the neutral head: the binary split is theirs alone
    feedback_train, gate = split_gate(polar(feedback.rows), config.gate_share)

    progress("reading Sentiment140")
    data = challenger_data(settings, config, recipe)
    manual_texts = set(normalize_many(data.manual["text"]))
    overlap = np.array([text in manual_texts for text in normalize_many(feedback_train["text"])])
    feedback_train = (
        feedback_train[~overlap].reset_index(drop=True) if overlap.size else feedback_train
    )
    return RetrainInputs(feedback, feedback_train, gate, int(overlap.sum()), data)


@dataclass(frozen=True)
class FittedChallenger:
    bundle_dir: Path
    runtime: RuntimeOptions
    bundle: ModelBundle  # loaded from bundle_dir, as serving loads it
    threshold: float
    threshold_source: str  # "feedback" (out-of-fold) or "validation"
    neutral: FittedNeutralHead | None  # None: no neutral head (too few neutral verdicts)


def fit_challenger(
    recipe: ChallengerRecipe,
    inputs: RetrainInputs,
    weight: float,
    config: RetrainConfig,
    settings: TrainingSettings,
    directory: Path,
    progress: Progress,
) -> FittedChallenger:
    """The recipe fitted on the Sentiment140 training split plus the feedback's training
    part, its bundle written under `directory`, and its threshold chosen."""
    train, validation = inputs.data.split.train, inputs.data.split.validation
    progress(f"computing the {recipe.name} recipe's features")
    features = recipe.prepare(
        FittingData(
            train["text"].tolist(),
            train["label"].to_numpy(),
            inputs.feedback_train["text"].tolist(),
            inputs.feedback_train["label"].to_numpy(),
            weight,
        ),
        progress="embedding" if recipe.onnx_threads else None,
    )

    progress("scoring the feedback out of fold")
    client_scores = None
    if enough_for_threshold(features.feedback_labels):
        client_scores = out_of_fold_scores(recipe, features, config.seed)

    progress("training the challenger")
    fitted = recipe.fit(features)
    bundle_dir = recipe.write_bundle(
        fitted,
        # the pyfunc keeps the folder's name: "bundle" is where serving looks for it
        directory / "challenger" / "bundle",
        validation["text"].tolist(),
        validation["label"].to_numpy(),
    )
    neutral = attach_neutral_head(recipe, inputs, config, settings, bundle_dir, progress)
    runtime = settings.runtime_options(recipe.onnx_threads)
    bundle = ModelBundle.load(bundle_dir, runtime)
    chosen = choose_client_threshold(
        features.feedback_labels if client_scores is not None else np.zeros(0),
        client_scores if client_scores is not None else np.zeros(0),
        validation["label"].to_numpy(),
        bundle.predict_proba(validation["text"].tolist()),
    )
    return FittedChallenger(bundle_dir, runtime, bundle, chosen.threshold, chosen.source, neutral)


def attach_neutral_head(
    recipe: ChallengerRecipe,
    inputs: RetrainInputs,
    config: RetrainConfig,
    settings: TrainingSettings,
    bundle_dir: Path,
    progress: Progress,
) -> FittedNeutralHead | None:
    """The neutral head fitted on every verdict's row, all three labels (the gate judges
    binary calls only, which the head does not change), and written into the challenger's
    bundle; None (the band decides, as before) with too few neutral or negative verdicts."""
    rows = inputs.feedback.rows
    if int((rows["label"] == NEUTRAL).sum()) < MIN_NEUTRAL:
        return None
    progress("fitting the neutral head on the neutral verdicts")
    head = neutral_head_for(
        recipe, settings.data_cache_dir / "embeddings", config.seed, config.max_negatives_lost
    )
    fitted = head.fit(rows["text"].tolist(), rows["label"].to_numpy())
    if fitted is None:
        return None
    head.attach(fitted, bundle_dir, inputs.data.split.validation["text"].head(64).tolist())
    return fitted


def load_champion(settings: TrainingSettings, version: str, directory: Path) -> ModelBundle:
    """The champion's bundle, downloaded into `directory` (made here)."""
    directory.mkdir()
    champion_dir = download_bundle(f"models:/{settings.model_name}/{version}", directory)
    return ModelBundle.load(champion_dir, settings.runtime_options())


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
    """Enough negative and positive rows to learn from and to judge on (neutral ones teach
    only the neutral head)."""
    rows = polar(feedback.rows)
    if len(rows) < min_feedback:
        raise DataError(
            f"{len(rows)} usable negative or positive feedback rows ({feedback.verdicts} "
            f"verdicts read; {feedback.duplicates} duplicates and {feedback.contradictions} "
            f"contradicting texts dropped), fewer than --min-feedback {min_feedback}: collect "
            "more verdicts through the API's /feedback, or lower --min-feedback"
        )
    if rows["label"].nunique() < 2:
        raise DataError("every feedback row has the same label: the gate cannot compare models")


def challenger_data(
    settings: TrainingSettings, config: RetrainConfig, recipe: ChallengerRecipe
) -> PreparedData:
    """The Sentiment140 data of the challenger: the champion's (`--recipe champion`: the
    same sample, its size from the run or `--sample`, the same seed, the same split), else
    `--sample` (default `DEFAULT_SAMPLE`) tweets with the default seed."""
    champion = recipe if isinstance(recipe, Recipe) and recipe.name == "champion" else None
    if champion is not None:
        rows, seed = config.sample or champion.data_rows, champion.seed
        if rows is None:
            raise UnsupportedChampion(
                "the champion's run does not record how many Sentiment140 tweets it was "
                "trained on (it predates the data_rows param): pass --sample N, N as given "
                "to `badbuzz train` (or the training file's row count when none was given)"
            )
    else:
        rows, seed = config.sample or DEFAULT_SAMPLE, DEFAULT_SEED
    source = locate_training(settings, config.data)
    frame = read_sentiment140(source.path, member=source.member)
    if rows < len(frame):
        frame = stratified_sample(frame, rows, seed)
    try:
        manual_source = locate_manual_test(settings, config.manual or source.path)
    except DataError:
        if config.manual:
            raise
        manual_source = locate_manual_test(settings)
    manual = read_sentiment140(manual_source.path, member=manual_source.member, keep_neutral=True)
    digest = data_hash(frame)
    if champion is not None and champion.data_hash and digest != champion.data_hash:
        log.warning(
            "the champion was trained on other Sentiment140 data (data_hash %s…, here %s… "
            "from %s): is it the same file and --sample?",
            champion.data_hash[:12],
            digest[:12],
            source,
        )
    return PreparedData(source, manual_source, split_dataset(frame, seed), manual, digest)


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
    recipe: ChallengerRecipe
    feedback_weight: float
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
    neutral: FittedNeutralHead | None


def champion_client_export(settings: TrainingSettings, version: str) -> ClientData | None:
    """The labelled export the champion was evaluated on (`train --eval-data`), where it is
    still readable: the challenger's neutral band is chosen on it too, so a retrain keeps
    the served model's `neutral` label. None without one."""
    client = MlflowClient()
    run_id = client.get_model_version(settings.model_name, version).run_id
    params = client.get_run(run_id).data.params if run_id else {}
    if "client_data" not in params:
        return None
    source = ClientSource(
        Path(params["client_data"]), params["client_text_column"], params["client_label_column"]
    )
    try:
        return read_client(source)
    except DataError as error:
        log.warning("no neutral band for the challenger: the champion's export %s", error)
        return None


def log_challenger(
    challenger: LoggedChallenger,
    config: RetrainConfig,
    settings: TrainingSettings,
    target: TrackingTarget,
    bundle_dir: Path,
    runtime: RuntimeOptions,
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
        "retrain_recipe": recipe.name,
    }
    params = {
        **recipe.params(),
        "feedback_weight": challenger.feedback_weight,
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
        "neutral_max_negatives_lost": config.max_negatives_lost,
        **neutral_head_params(challenger.neutral),
    }
    use_experiment(experiment_name(challenger.data.data_hash), target)
    name = recipe.spec.name if isinstance(recipe, Recipe) else recipe.name
    with model_run(
        name, recipe.model_family, recipe.embedding_type, challenger.data, params
    ) as run:
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
        trained = record(
            run,
            bundle_dir,
            settings,
            True,
            runtime,
            threshold=challenger.threshold,
            band_source=champion_client_export(settings, challenger.challenged_version),
        )
    assert trained.version is not None  # registered: record(register=True)
    client = MlflowClient()
    for key, value in {**lineage, "gate_reason": challenger.decision.reason}.items():
        client.set_model_version_tag(settings.model_name, trained.version, key, value)
    return trained.version


def neutral_head_params(neutral: FittedNeutralHead | None) -> dict[str, object]:
    if neutral is None:
        return {"neutral_head": False}
    return {
        "neutral_head": True,
        "neutral_head_rows": neutral.rows,
        "neutral_head_neutral_rows": neutral.neutral_rows,
        "neutral_head_cut": neutral.cut,
        "neutral_head_oof_negatives_lost": neutral.out_of_fold_negatives_lost,
        "neutral_head_oof_neutral_found": neutral.out_of_fold_neutral_found,
    }
