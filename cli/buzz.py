"""`badbuzz buzz replay`: back-test the bad-buzz watch on a historical file of tweets, with
the model and the BADBUZZ_BUZZ_* settings the live watch would use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from badbuzz.errors import UserError
from cli.tables import console, errors

if TYPE_CHECKING:
    from rich.table import Table

    from badbuzz.bundle.model import ModelBundle
    from badbuzz.settings import OpsSettings
    from ops.buzz import Buzz

app = typer.Typer(help="The bad-buzz watch: back-test it on past tweets.", no_args_is_help=True)


@app.command("replay")
def replay_file(
    file: Annotated[
        Path, typer.Argument(help="A CSV (or .csv.gz) of past tweets with a header row.")
    ],
    text_column: Annotated[str, typer.Option(help="The column holding the tweets.")] = "text",
    time_column: Annotated[
        str,
        typer.Option(
            help="The column holding each tweet's time, with a UTC offset "
            "(2015-02-22 17:03:11 -0800, ISO 8601, or Mon Apr 06 22:19:45 PDT 2009)."
        ),
    ] = "tweet_created",
    brand_column: Annotated[
        str | None,
        typer.Option(
            help="A column naming each tweet's brand (e.g. airline); unset or empty: found "
            "from the @handles of BADBUZZ_BRANDS, else `all`."
        ),
    ] = None,
    model_uri: Annotated[
        str | None,
        typer.Option(
            help="A local bundle (folder or .tar.gz), or models:/NAME@ALIAS, "
            "models:/NAME/VERSION, runs:/RUN/model. Default: the model the API would serve "
            "(BADBUZZ_MODEL_BUNDLE, else BADBUZZ_MODEL_ALIAS, else @champion).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for alerts.jsonl and chart.png. Default: under BADBUZZ_HOME/reports."
        ),
    ] = None,
    encoding: Annotated[str, typer.Option(help="The file's text encoding.")] = "utf-8",
) -> None:
    """Score FILE in time order and run the live watch's detector over it (same code, same
    BADBUZZ_BUZZ_* settings): print the alerts it would have raised, write them to
    alerts.jsonl and a chart of negatives per brand and window to chart.png."""
    import tempfile

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ops.brands import BrandMatcher
    from ops.replay import read_tweets, replay, write_replay

    settings = _settings()
    tweets = read_tweets(
        file, text_column, time_column, brand_column, BrandMatcher(settings.brands), encoding
    )
    if not tweets:
        raise UserError(f"{file} has no tweets to replay")
    with tempfile.TemporaryDirectory() as tmp:
        bundle, model = _load_model(model_uri, Path(tmp))
        columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*Progress.get_default_columns()[:1], *columns, console=errors) as progress:
            task = progress.add_task("Replaying", total=len(tweets))
            result = replay(tweets, bundle, settings, lambda done: progress.advance(task, done))
    folder = out or settings.reports_dir / f"buzz-replay-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    written = write_replay(result, folder.resolve(), model)
    console.print(_alerts_table(result.buzzes, file.name))
    first, last = tweets[0].at, tweets[-1].at
    console.print(
        f"Replayed {result.tweets:,} tweets from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} "
        f"UTC in {result.seconds:.1f} s ({result.tweets_per_s:,.0f} tweets/s) with {model}: "
        f"{len(result.buzzes)} alerts; written to {', '.join(str(p) for p in written)}",
        highlight=False,
        soft_wrap=True,
    )


def _settings() -> OpsSettings:
    from pydantic import ValidationError

    from badbuzz.settings import OpsSettings, setting_name

    try:
        return OpsSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"BADBUZZ_{setting_name(e['loc']).upper()}: {e['msg']}" for e in error.errors()
        )
        raise UserError(f"invalid settings: {problems}") from error


def _load_model(model_uri: str | None, scratch: Path) -> tuple[ModelBundle, str]:
    """The bundle and a name for it: a local path or a registry URI as given, else what
    the API would resolve (its cache and last good model included)."""
    from badbuzz.bundle.model import ModelBundle

    if model_uri is not None and ":/" not in model_uri:
        if not Path(model_uri).exists():
            raise UserError(
                f"--model-uri {model_uri}: no such bundle folder or .tar.gz (or give "
                "models:/NAME@ALIAS)"
            )
        return _resolved(model_bundle=Path(model_uri))
    if model_uri is not None:
        from badbuzz.registry import configure_tracking, download_bundle
        from badbuzz.settings import BadbuzzSettings

        settings = BadbuzzSettings()
        configure_tracking(settings)
        bundle = ModelBundle.load(download_bundle(model_uri, scratch), settings.runtime_options())
        return bundle, model_uri
    return _resolved()


def _resolved(model_bundle: Path | None = None) -> tuple[ModelBundle, str]:
    from pydantic import ValidationError

    from api.resolve import ModelUnavailable, resolve_bundle
    from badbuzz.bundle.model import ModelBundle
    from badbuzz.settings import ApiSettings

    try:
        settings = ApiSettings()
    except ValidationError as error:
        raise UserError(f"invalid settings: {error.errors()[0]['msg']}") from error
    if model_bundle is not None:
        settings = settings.model_copy(update={"model_bundle": model_bundle.resolve()})
    elif settings.model_bundle is None and settings.model_alias is None:
        settings = settings.model_copy(update={"model_alias": "champion"})
    try:
        resolved = resolve_bundle(settings)
    except ModelUnavailable as error:
        raise UserError(f"no model to replay with: {error} (or pass --model-uri)") from error
    bundle = ModelBundle.load(resolved.directory, settings.runtime_options())
    version = "" if resolved.version == "local" else f" v{resolved.version}"
    where = f" ({settings.model_bundle})" if settings.model_bundle else ""
    return bundle, f"{resolved.name}{version}{where}"


def _alerts_table(buzzes: list[Buzz], title: str) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=f"Bad buzz in {title}", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("brand")
    table.add_column("window (UTC)", no_wrap=True)
    for header in ("neg.", "tweets", "share", "usual", "thr."):
        table.add_column(header, justify="right", no_wrap=True)
    for buzz in buzzes:
        table.add_row(
            buzz.brand,
            f"{buzz.window_start:%Y-%m-%d %H:%M}-{buzz.window_end:%H:%M}",
            str(buzz.negatives),
            str(buzz.total),
            f"{buzz.share:.0%}",
            f"{buzz.baseline.negatives:g}",
            str(buzz.baseline.threshold),
        )
    if not buzzes:
        table.caption = "no alert: nothing crossed its baseline"
    return table
