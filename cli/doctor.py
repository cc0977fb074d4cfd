"""`badbuzz doctor`: can this machine serve, and if not, what to do (one line per check)."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from badbuzz.doctor.result import Background, CheckResult, Status
from cli.tables import console

if TYPE_CHECKING:
    from badbuzz.cpu import CpuInfo
    from badbuzz.settings import ApiSettings, OpsSettings

app = typer.Typer()

STYLE: dict[Status, str] = {"ok": "green", "warn": "yellow", "fail": "bold red", "skipped": "dim"}
# What an in-process check may spend beyond its network timeouts: imports (MLflow takes
# seconds on an N100), and the handshakes' several round trips.
SLACK_S = 10.0


@app.command("doctor")
def doctor(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object on stdout, for machines.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(min=0.1, help="Seconds each network call may wait (MLflow, database, SMTP)."),
    ] = 5.0,
    import_timeout: Annotated[
        float,
        typer.Option(min=1, help="Seconds a runtime may take to import, or the bundle to load."),
    ] = 60.0,
) -> None:
    """Check this machine for serving: the CPU's vector flags, which runtimes load (each in a
    child process, so a crash on this CPU is reported, not suffered), the settings, the model
    (BADBUZZ_MODEL_BUNDLE, or MLflow, the version to serve and its artifacts), the database,
    the mail server and the free disk. Exits 1 when the stack cannot serve."""
    results = run_checks(timeout, import_timeout)
    can_serve = not any(result.status == "fail" for result in results)
    if as_json:
        payload = {"can_serve": can_serve, "checks": [r.as_dict() for r in results]}
        typer.echo(json.dumps(payload, indent=2))
    else:
        console.print(report_table(results))
        console.print(verdict(results), highlight=False)
    if not can_serve:
        raise typer.Exit(1)


def run_checks(timeout_s: float, import_timeout_s: float) -> list[CheckResult]:
    """Every check, side by side, each under its deadline; in the order they are shown."""
    from functools import partial

    from badbuzz.cpu import cpu_info
    from badbuzz.doctor.machine import check_cpu
    from badbuzz.doctor.runtimes import RUNTIMES, check_runtime, check_serving_runtimes

    cpu = cpu_info()
    runtime_jobs = [
        Background(partial(check_runtime, runtime, cpu, import_timeout_s), import_timeout_s + 5)
        for runtime in RUNTIMES
    ]
    settings, settings_line = api_settings()
    later = (
        start_checks(settings, cpu, timeout_s, import_timeout_s)
        if settings is not None
        else without_settings()
    )
    runtime_lines = [
        late(job, runtime.name, "warn") for job, runtime in zip(runtime_jobs, RUNTIMES, strict=True)
    ]
    return [
        check_cpu(cpu, platform.machine()),
        *runtime_lines,
        check_serving_runtimes(runtime_lines),
        settings_line,
        *later(runtime_lines),
    ]


def start_checks(
    settings: ApiSettings, cpu: CpuInfo, timeout_s: float, import_timeout_s: float
) -> Callable[[list[CheckResult]], list[CheckResult]]:
    """Start the checks that need the settings; what they found, once the runtimes' lines
    are known (whether one here scores the registry's bundle), from the returned call."""
    from badbuzz.doctor.bundle import check_bundle
    from badbuzz.doctor.database import check_database
    from badbuzz.doctor.machine import check_disk
    from badbuzz.doctor.registry import CHECKS, check_registry, skipped

    bundle = Background(
        lambda: check_bundle(
            settings.model_bundle,
            settings.model_cache_dir,
            cpu,
            import_timeout_s,
            settings.verify_key,
            settings.environment == "production",
        ),
        import_timeout_s + 5,
    )
    registry = Background(
        lambda: check_registry(settings, timeout_s), SLACK_S + len(CHECKS) * timeout_s
    )
    database = Background(
        lambda: check_database(settings.resolved_database_url, timeout_s), SLACK_S + timeout_s
    )
    # connect, EHLO, STARTTLS, login: each may wait `timeout_s`
    smtp = Background(lambda: check_smtp(settings, timeout_s), SLACK_S + 4 * timeout_s)
    disk = Background(lambda: check_disk(settings.home), SLACK_S)

    def collect(runtime_lines: list[CheckResult]) -> list[CheckResult]:
        report = registry.result()
        registry_lines = (
            report.against(runtime_lines)
            if report is not None
            else [overdue("mlflow", "fail", registry.seconds), *skipped("MLflow not reached", 1)]
        )
        return [
            late(bundle, "bundle", "fail"),
            *registry_lines,
            late(database, "database", "fail"),
            late(smtp, "smtp", "warn"),
            late(disk, "disk", "warn"),
        ]

    return collect


def without_settings() -> Callable[[list[CheckResult]], list[CheckResult]]:
    """The API would not start: the checks that need its settings say so; the disk is
    checked if BADBUZZ_HOME itself is valid."""
    from pydantic import ValidationError

    from badbuzz.doctor.machine import check_disk
    from badbuzz.doctor.registry import CHECKS
    from badbuzz.settings import BadbuzzSettings

    try:
        disk = check_disk(BadbuzzSettings().home)
    except ValidationError:
        disk = CheckResult("disk", "skipped", "BADBUZZ_HOME is invalid")
    lines = [
        *(
            CheckResult(name, "skipped", "the settings are invalid")
            for name in ("bundle", *CHECKS, "database", "smtp")
        ),
        disk,
    ]
    return lambda _runtime_lines: lines


def api_settings() -> tuple[ApiSettings | None, CheckResult]:
    """The API's settings and their line; when invalid, the API would refuse to start."""
    from pydantic import ValidationError

    from badbuzz.settings import ApiSettings, setting_name

    try:
        settings = ApiSettings()
    except ValidationError as error:
        # only the messages: the input itself may be a (weak) secret
        problems = "; ".join(
            f"{setting_name(e['loc']) or 'settings'}: {e['msg']}" for e in error.errors()
        )
        return None, CheckResult(
            "settings",
            "fail",
            f"the API would refuse them: {problems}",
            "fix these BADBUZZ_* variables (README, Settings)",
        )
    detail = f"BADBUZZ_HOME {settings.home}; model {settings.model_name}; {settings.environment}"
    return settings, CheckResult("settings", "ok", detail)


def late(job: Background[CheckResult], name: str, status: Status) -> CheckResult:
    """The job's result, or the line of a check that ran past its deadline."""
    result = job.result()
    return result if result is not None else overdue(name, status, job.seconds)


def overdue(name: str, status: Status, seconds: float) -> CheckResult:
    return CheckResult(
        name,
        status,
        f"no answer within {seconds:g} s",
        "something it waits for hangs (a host that drops packets, slow DNS): check its settings",
    )


def check_smtp(settings: OpsSettings, timeout_s: float) -> CheckResult:
    """Connect, EHLO, STARTTLS and log in as BADBUZZ_SMTP_* say, then QUIT: no mail sent.
    A mail server that fails is a warning: the API serves, its alerts wait in the outbox."""

    if not settings.smtp.host:
        return CheckResult(
            "smtp",
            "skipped",
            "not configured: alerts are recorded, not mailed",
            "set BADBUZZ_SMTP_HOST and BADBUZZ_ALERT_TO to mail them",
        )
    try:
        from ops.mailer import Mailer, MailError
    except ImportError:
        return CheckResult("smtp", "skipped", "not installed (the ops part is not here)")

    smtp = settings.smtp.model_copy(update={"timeout_s": min(settings.smtp.timeout_s, timeout_s)})
    short = settings.model_copy(update={"smtp": smtp})
    mailer = Mailer(short)
    try:
        mailer.handshake()
    except MailError as error:
        return CheckResult("smtp", "warn", f"{mailer.endpoint}: {error.kind}", str(error))
    steps = ["EHLO", *(["STARTTLS"] if mailer.security == "starttls" else [])]
    steps += ["login"] if mailer.user else []
    detail = f"{mailer.endpoint}: {', '.join(steps)} ok; no mail sent"
    if not settings.alert.to:
        return CheckResult("smtp", "warn", detail, "set BADBUZZ_ALERT_TO: no one gets the alerts")
    return CheckResult("smtp", "ok", detail)


def report_table(results: list[CheckResult]) -> Table:
    """check | status | what was found, and under it what to do; fits 80 columns."""
    table = Table(title="badbuzz doctor", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("found, and what to do")
    for result in results:
        cell = Text(result.detail)
        if result.action:
            cell.append(f"\n→ {result.action}", style="italic")
        table.add_row(result.check, Text(result.status, style=STYLE[result.status]), cell)
    return table


def verdict(results: list[CheckResult]) -> Text:
    failed = [r.check for r in results if r.status == "fail"]
    warned = [r.check for r in results if r.status == "warn"]
    if failed:
        return Text(f"cannot serve: {', '.join(failed)} failed", style="bold red")
    said = (
        f" ({len(warned)} warning{'s' * (len(warned) != 1)}: {', '.join(warned)})" if warned else ""
    )
    return Text(f"ready to serve{said}", style="green")
