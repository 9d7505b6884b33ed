"""The ``presswash`` command line.

Prefect is imported only by the commands that run or serve the flow, so
``presswash --help``, ``explain``, ``rules``, ``schema`` and ``validate`` start
fast and work without any Prefect server.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3

DEFAULT_INPUT = "data/raw"
DEFAULT_OUT = "data/clean"


def _quiet_prefect_env() -> None:
    # Telemetry off unless the user decided otherwise.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # Prefect's default (20 s) is too short for a busy machine: a run would fail before starting.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="input files, directories (recursed) or globs "
        f"(default: the config's inputs, else {DEFAULT_INPUT})",
    )
    p.add_argument("--out", help=f"output directory (default: the config's out, else {DEFAULT_OUT})")
    p.add_argument("--config", metavar="FILE", help="TOML file with flow parameters (see presswash.toml)")
    p.add_argument("--force", action="store_true", default=None, help="reprocess every given input")
    p.add_argument("--shard-bytes", type=int, help="input bytes per shard task")
    p.add_argument(
        "--runner",
        choices=("thread", "process", "dask"),
        default="process",
        help="task runner: process (default: the steps in one worker process per core), thread "
        "(all in this process) or dask",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="workers of the runner and threads of the dedup reduce (default: one per core)",
    )
    p.add_argument(
        "--address", help="address of a running Dask scheduler (tcp://host:8786), with --runner dask"
    )
    p.add_argument(
        "--wait",
        action="store_true",
        default=None,
        help="if another run holds the output directory, wait for it instead of refusing",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="presswash",
        description="Clean, deduplicated Parquet corpora from raw OCR and newspaper text dumps.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("run", help="run the clean-corpus flow once and publish the dataset")
    _add_run_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("explain", help="show every change and decision on one file, by rule (no Prefect)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--config", metavar="FILE", help="TOML file with flow parameters")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--all", action="store_true", help="also show routine decisions (paragraph breaks)")
    p.add_argument(
        "--inputs",
        nargs="+",
        metavar="PATH",
        help="the inputs of the run FILE is part of: find repeated page furniture over FILE's block "
        "of them, and give the run's ids, as a run over them does (default: FILE's own pages)",
    )
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("rules", help="list every named rule with its summary")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_rules)

    p = sub.add_parser("config", help="configuration commands")
    csub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    csub.required = True
    ps = csub.add_parser("show", help="print the effective configuration as TOML")
    ps.add_argument("--config", metavar="FILE", help="TOML file with flow parameters")
    ps.set_defaults(func=cmd_config_show)

    p = sub.add_parser(
        "serve", help="serve the clean-corpus deployment on a cron schedule (needs a Prefect server)"
    )
    p.add_argument("--cron", required=True, help='cron schedule, e.g. "0 3 * * *"')
    p.add_argument("--name", default="presswash-daily", help="deployment name (default: presswash-daily)")
    p.add_argument("--timezone", default="UTC", help="time zone of the schedule (default: UTC)")
    _add_run_options(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("schema", help="print the public Parquet schemas and the schema version")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("validate", help="check the invariants of a published output directory")
    p.add_argument("out", nargs="?", default=DEFAULT_OUT, metavar="OUT")
    p.set_defaults(func=cmd_validate)
    return parser


# ------------------------------------------------------------------ helpers


def _params(args: argparse.Namespace) -> Any:
    """FlowParams from --config and the command-line overrides; exits with a clear message when invalid."""
    from pydantic import ValidationError

    from flows.params import FlowParams, describe_error

    overrides: dict[str, Any] = {}
    if getattr(args, "inputs", None):
        overrides["inputs"] = list(args.inputs)
    for name in ("out", "force", "shard_bytes", "wait", "workers"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    try:
        return FlowParams.from_toml(args.config, **overrides)
    except ValidationError as exc:
        raise SystemExit(_fail(describe_error(exc, args.config), EXIT_USAGE)) from None
    except (OSError, ValueError) as exc:  # a missing or malformed TOML file
        raise SystemExit(_fail(f"cannot read config {args.config}: {exc}", EXIT_USAGE)) from None


def _wait_for(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end on a new event loop.

    Not ``asyncio.run``: on Ctrl-C it only cancels the main task, which the flow sees at its
    next ``await``, and the flow's body blocks until its tasks are done, so one Ctrl-C would
    not stop the run. Here it raises ``KeyboardInterrupt`` where the body waits, as in any
    synchronous program.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _fail(message: str, code: int) -> int:
    print(f"presswash: {message}", file=sys.stderr)
    return code


def _runner(args: argparse.Namespace, workers: int | None = None) -> Any:
    from flows.runners import make_task_runner

    try:
        return make_task_runner(args.runner, args.workers or workers, args.address)
    except (ValueError, RuntimeError) as exc:
        raise SystemExit(_fail(str(exc), EXIT_USAGE)) from None


def _with_runner(args: argparse.Namespace, params: Any) -> Any:
    """The parameters with what ``--runner`` asks of the flow: worker processes for ``process``
    only (the option wins over a configuration file's ``worker_processes``)."""
    wanted = args.runner == "process"
    if params.worker_processes == wanted:
        return params
    return params.model_copy(update={"worker_processes": wanted})


def format_summary(summary: dict[str, Any], elapsed: float | None = None) -> str:
    """The summary ``presswash run`` prints; ``elapsed``: the command's own wall seconds so far."""
    from flows.artifacts import timings_text

    lines = [
        f"files:      {summary['files_given']} given, {summary['files_processed']} processed, "
        f"{summary['files_skipped']} unchanged",
        f"articles:   {summary['articles']}",
        f"paragraphs: {summary['paragraphs']} ({summary['kept']} kept, {summary['duplicate']} duplicate, "
        f"{summary['truncated']} truncated)",
        f"rejects:    {summary['rejects']}",
        f"output:     {summary['output']} (schema {summary['schema_version']}, "
        f"{summary['changed_files']} files changed)",
    ]
    spent = timings_text(summary.get("timings"))
    if spent:
        if elapsed is not None:
            # the rest of the command: imports, Prefect (and its temporary server), the publish
            spent += f"; the run in all {elapsed:.1f} s"
        lines.append(f"time:       {spent}")
    return "\n".join(lines)


# ----------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    _quiet_prefect_env()
    from flows import ephemeral

    # Without a Prefect server to talk to, the temporary one boots on another core while the
    # imports below run, instead of after them (flows/ephemeral.py). It is launched before the
    # parameters are read: reading them imports the pipeline (~0.6 s), and the run waits for
    # the server's boot after its own imports and warm-up. Invalid parameters stop it unused.
    server = ephemeral.launch_early()
    try:
        params = _params(args)
        return _run_flow(args, params, server, started)
    finally:
        if server is not None:
            server.stop()


def _run_flow(args: argparse.Namespace, params: Any, server: Any, started: float) -> int:
    runner = _runner(args, params.workers)
    params = _with_runner(args, params)

    from cleaning.parquet_io import PublishError
    from cleaning.state import RunLocked
    from flows import ephemeral
    from flows.clean_corpus import clean_corpus

    def warm_up() -> None:
        # Shard tasks of the thread runner run in this process, and so do those of a process
        # run with one shard: load their compiled kernels and dictionaries now, while the
        # temporary server boots, instead of in the first shard.
        if args.runner in ("thread", "process"):
            from cleaning.warmup import warm_up as load

            load(params.cleaning())

    try:
        with ephemeral.api_server(server, while_waiting=warm_up):
            summary = _wait_for(clean_corpus.with_options(task_runner=runner)(params=params))
    except RunLocked as exc:
        return _fail(str(exc), EXIT_LOCKED)
    except ephemeral.ServerStartError as exc:
        return _fail(f"{exc}; or point PREFECT_API_URL at a running server", EXIT_FAILED)
    except PublishError as exc:
        return _fail(f"publish failed: {exc}", EXIT_FAILED)
    except OSError as exc:
        # disk full, permission denied, a vanished output directory
        from cleaning.parquet_io import journal_path
        from cleaning.state import StateDir

        if journal_path(StateDir(params.out).root).exists():
            after = "the publish was interrupted; the next run completes it before anything else"
        else:
            after = f"nothing was published; the previous dataset in {params.out} is unchanged"
        return _fail(f"run failed: {exc}\n{after}", EXIT_FAILED)
    print(format_summary(summary, time.perf_counter() - started))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    params = _params(args)
    _quiet_prefect_env()
    from prefect.settings import PREFECT_API_URL

    if not (os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()):
        return _fail(
            "serve needs a running Prefect server: start one with `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (or point it at your server)",
            EXIT_USAGE,
        )
    runner = _runner(args, params.workers)
    params = _with_runner(args, params)
    from prefect.schedules import Cron

    from flows.clean_corpus import clean_corpus

    flow = clean_corpus.with_options(task_runner=runner)
    try:
        flow.serve(
            name=args.name,
            schedule=Cron(args.cron, timezone=args.timezone),
            parameters={"params": params.model_dump(mode="json")},
            print_starting_message=True,
        )
    except ValueError as exc:  # a malformed cron string
        return _fail(str(exc), EXIT_USAGE)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from flows.explain import explain_file

    params = _params(argparse.Namespace(config=args.config))
    try:
        report = explain_file(
            args.file,
            params.cleaning(),
            inputs=args.inputs,
            shard_bytes=params.shard_bytes,
            furniture_max_pages=params.furniture_max_pages,
        )
    except ValueError as exc:  # FILE is not among --inputs
        return _fail(str(exc), EXIT_USAGE)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        from flows.explain import render

        sys.stdout.write(render(report, show_all=args.all))
    return EXIT_OK if report["documents"] or report["rejects"] else EXIT_FAILED


def cmd_rules(args: argparse.Namespace) -> int:
    from cleaning.rules import all_rules

    rules = all_rules()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "stage": r.stage,
                        "summary": r.summary,
                        "has_cases": r.case_fn is not None,
                    }
                    for r in rules.values()
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    width = max((len(n) for n in rules), default=0)
    stage = None
    for r in rules.values():
        if r.stage != stage:
            stage = r.stage
            print(f"[{stage}]")
        print(f"  {r.name.ljust(width)}  {r.summary}")
    return EXIT_OK


def cmd_config_show(args: argparse.Namespace) -> int:
    from flows.tomlout import dumps

    params = _params(args)
    print(dumps(params.model_dump(mode="json")), end="")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from cleaning.schema import PUBLIC_TABLES, SCHEMA_VERSION

    if args.json:
        print(
            json.dumps(
                {
                    "schema_version": SCHEMA_VERSION,
                    "tables": {
                        name: [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema]
                        for name, schema in PUBLIC_TABLES.items()
                    },
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(f"schema version {SCHEMA_VERSION}")
    for name, schema in PUBLIC_TABLES.items():
        print(f"\n{name}/*.parquet")
        for f in schema:
            print(f"  {f.name:<22} {f.type!s:<40} {'null' if f.nullable else 'not null'}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from flows.steps import validate_output

    problems = validate_output(args.out)
    if problems:
        for p in problems:
            print(f"FAIL {p}")
        return EXIT_FAILED
    manifest = json.loads((Path(args.out) / "manifest.json").read_text(encoding="utf-8"))
    c = manifest["counts"]
    print(
        f"OK {args.out}: {len(manifest['inputs'])} inputs, {c['articles']} articles, "
        f"{c['paragraphs']} paragraphs, {c['rejects']} rejects"
    )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def run_then_exit(command: Callable[[], int]) -> NoReturn:
    """Run ``command`` as a program's whole life and exit with its status, without teardown.

    After a run the interpreter spends ~0.5 s of CPU tearing down what the run imported
    (Prefect, numba, pyarrow, pandas: thousands of modules), ~0.9 s with Prefect, on work
    nobody needs: the process is ending. So this exits at the end of the ``atexit``
    handlers instead, with ``os._exit``. Everything that must happen at exit still does,
    in the interpreter's usual order: non-daemon threads are joined and Prefect's log and
    event workers drain (both before ``atexit``); the ``atexit`` handlers registered after
    this one starts (logging's flush, Prefect's, Dask's, temporary directories) run first,
    since the handler registered here runs last; then the standard streams are flushed.
    The outputs do not depend on it: every file is closed and renamed into place before a
    step returns. An uncaught exception exits the usual way.
    """
    status: list[int] = []

    def exit_now() -> None:
        if not status:  # an uncaught exception: let the interpreter finish as usual
            return
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be written
                pass
        os._exit(status[0])

    atexit.register(exit_now)
    status.append(command())
    sys.exit(status[0])


def entry() -> NoReturn:
    """The ``presswash`` console script: :func:`main` with the command line, then a quick exit."""
    run_then_exit(main)


if __name__ == "__main__":
    entry()
