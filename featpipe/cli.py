"""featpipe's command line: parse arguments, call one library function, map errors to exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from . import __version__
from .errors import FeatpipeError

app = typer.Typer(
    help="Config-driven image classification: hand-designed features + linear SVM versus an MLP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Inspect and fetch data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _bare_flags() -> None:
    """Show on/off flags (--quiet, --help, --install-completion) in `--help` without a `<bool>` value placeholder.

    Typer's rich help prints every option's type, flags' too, as if they took a value; a flag
    takes none. One patch here covers our flags and Typer's own.
    """
    shown = TyperOption.display_type_rich
    if getattr(shown, "featpipe_bare_flags", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag and not self.count else shown(self, ctx)

    display_type_rich.featpipe_bare_flags = True
    TyperOption.display_type_rich = display_type_rich


_bare_flags()


def _fail(error: FeatpipeError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(error.exit_code)


class _MlflowOptionCommand(TyperCommand):
    """A command whose --mlflow option takes an optional value: bare `--mlflow` means MLflow's default store.

    Click options take a value or none, not either; so a bare --mlflow (last, or followed by an
    option or by a .yaml file, which no tracking URI is) is read as `--mlflow=` (empty: default).
    """

    def parse_args(self, ctx, args):
        args = list(args)
        for i, arg in enumerate(args):
            following = args[i + 1] if i + 1 < len(args) else None
            if arg == "--mlflow" and (following is None or following.startswith("-")
                                      or following.endswith((".yaml", ".yml"))):
                args[i] = "--mlflow="
        return super().parse_args(ctx, args)


MLFLOW_HELP = ("Also log the finished run(s) to MLflow: at URI, else $MLFLOW_TRACKING_URI, else MLflow's local "
               "default (./mlflow.db). Needs the extra: pip install 'featpipe\\[mlflow]'.")


def _fail_os(error: OSError, where: Path | None) -> None:
    """An OSError no layer below turned into featpipe's error: still one line naming the path."""
    path = error.filename or where or "?"
    typer.echo(f"error: {path}: {error.strerror or error}", err=True)
    raise typer.Exit(1)


def _exit_if_interrupted(error: BaseException, what_now: str) -> None:
    """Ctrl-C (also when a library wrapped it in its own error): one line and exit 130; else re-raise."""
    from .interrupts import caused_by_interrupt

    if not caused_by_interrupt(error):
        raise error
    typer.echo(f"\ninterrupted: {what_now}", err=True)
    raise typer.Exit(130) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"featpipe {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """featpipe: compare hand-designed features with features an MLP learns."""


@app.command(cls=_MlflowOptionCommand)
def run(
    config: Path = typer.Argument(..., help="YAML file describing one experiment."),
    set_: List[str] = typer.Option([], "--set", help="Override a config value: KEY.PATH=VALUE (repeatable)."),
    out: Path = typer.Option(Path("runs"), "--out", help="Folder that receives the run folder."),
    name: Optional[str] = typer.Option(None, "--name", help="Run folder name (default: NAME-TIMESTAMP); taken: NAME-2, ..."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted MLP training from its last checkpoint."),
    force: bool = typer.Option(False, "--force", help="Replace an existing run folder of the same name."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    mlflow: Optional[str] = typer.Option(None, "--mlflow", metavar="[URI]", help=MLFLOW_HELP),
) -> None:
    """Run one experiment: load data, split, fit, evaluate, and write a run folder.

    Data: CIFAR-10 configs use the official data set (downloaded and checksummed on first use);
    FEATPIPE_DATA_PROFILE=local reads this repository's local image-folder archive instead
    (configs/data-profiles/local.yaml), FEATPIPE_DATA_PROFILE=FILE.yaml a profile of your own.
    """
    from .data.profile import load_run_config
    from .runner import run_experiment
    from .runs.folder import check_run_name, default_run_name
    from .summary import format_run

    try:
        if name is not None:
            check_run_name(name)
        cfg = load_run_config(config, set_)
        tracker = _open_tracker(mlflow)
        run_dir = out / (name or default_run_name(cfg.name))
        result = run_experiment(cfg, run_dir, resume=resume, progress=not quiet, command=sys.argv, replace=force)
    except FeatpipeError as error:
        _fail(error)
    except OSError as error:
        _fail_os(error, out)
    except (KeyboardInterrupt, Exception) as error:
        _exit_if_interrupted(error, f"nothing was written (no run folder under {out}); run the same command "
                             "again to start over, or add --resume to continue an MLP's training from its last "
                             "epoch checkpoint")
    if result.run_dir != run_dir:
        typer.echo(f"note: {run_dir} holds another run; this one was written beside it (--force replaces)",
                   err=True)
    typer.echo(format_run(result.metrics, result.run_dir))
    if tracker is not None:
        try:
            typer.echo(f"{tracker.log_run(result.run_dir).describe()} at {tracker.uri}")
        except FeatpipeError as error:
            _fail(error)


def _open_tracker(uri: Optional[str]):
    """The MLflow tracker for --mlflow (None: not asked for); opened first, so a bad store fails before any run."""
    if uri is None:
        return None
    from .tracking import MlflowTracker

    return MlflowTracker(uri or None)


@app.command()
def evaluate(
    run_dir: Path = typer.Argument(..., help="A finished run folder."),
    data: str = typer.Option(..., "--data", help="Labelled data: digits, cifar10[:DIR], or an image folder / .tar.gz."),
    split: Optional[str] = typer.Option(None, "--split", help="Split to score (default: test, else val, else train, else the only one)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Score a saved model on any labelled data; prints and writes the metrics."""
    from .inference import evaluate as evaluate_run

    try:
        result = evaluate_run(run_dir, data, split, progress=not quiet)
    except FeatpipeError as error:
        _fail(error)
    typer.echo(f"{run_dir} on {data} [{result['split']}]: accuracy {result['accuracy']:.2%} over {result['n']} images")
    seen = result.get("seen_in_training")
    if seen:
        typer.echo(f"WARNING: {seen} of these {result['n']} images are images the model was trained on, so this "
                   "accuracy overstates what it does on new images; score a held-out split instead (--split, "
                   "or data the run never saw)", err=True)
    elif seen is None:
        typer.echo("note: could not rebuild the run's training split to check these images against it", err=True)
    for name, accuracy in result["per_class"].items():
        typer.echo(f"  {name:>14}: {'-' if accuracy is None else f'{accuracy:.1%}'}")


@app.command()
def predict(
    run_dir: Path = typer.Argument(..., help="A finished run folder."),
    images: List[Path] = typer.Argument(..., help="Image files of any size."),
    top: int = typer.Option(3, "--top", min=1, help="How many classes to show per image."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list: per image its path, score kind and top classes."),
) -> None:
    """Show the top classes, with scores, for image files."""
    import json

    from .inference import predict as predict_images

    try:
        results = predict_images(run_dir, images, top)
    except FeatpipeError as error:
        _fail(error)
    if as_json:
        typer.echo(json.dumps(results, indent=2))
        return
    for result in results:
        ranked = ", ".join(f"{t['class']} {t['score']:.3f}" for t in result["top"])
        typer.echo(f"{result['image']}: {ranked}  ({result['score_kind']})")


@app.command()
def report(
    runs_dir: Path = typer.Argument(..., help="A run folder, a batch's output folder, or any folder holding run folders."),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML file to write (default DIR/report.html); .md, .csv and a figures folder go beside it."),
    no_images: bool = typer.Option(False, "--no-images", help="Skip figures that reload each run's data (HOG glyphs, color histograms, misclassified images)."),
    max_images: int = typer.Option(8, "--max-images", min=0, help="Misclassified validation images shown per run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Compare finished runs: a sortable table and figures as HTML (self-contained), Markdown and CSV."""
    from .report import build_report

    try:
        files = build_report(runs_dir, out, images=not no_images, max_images=max_images, progress=not quiet)
    except FeatpipeError as error:
        _fail(error)
    for warning in files.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"report of {files.n_runs} run(s): {files.html}\n  markdown: {files.markdown}\n  table: {files.csv}")


@data_app.command("info")
def data_info(
    spec: str = typer.Argument(..., help="digits, cifar10[:DIR], or an image folder / .tar.gz (folder:PATH)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Describe a data set: splits, image shape, classes and counts."""
    from .data import describe, load_source, parse_spec

    try:
        splits = load_source(**parse_spec(spec), progress=not quiet)
    except FeatpipeError as error:
        _fail(error)
    typer.echo(describe(splits))


@data_app.command("download")
def data_download(
    name: str = typer.Argument(..., help="Data set to download: cifar10."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Cache folder (default: $FEATPIPE_CACHE or the user cache)."),
) -> None:
    """Download a data set into the cache and verify its checksum."""
    from .data import download_cifar10
    from .errors import DataError

    try:
        if name != "cifar10":
            raise DataError(f"unknown data set {name!r}: the one that can be downloaded is 'cifar10'")
        path = download_cifar10(cache_dir)
    except FeatpipeError as error:
        _fail(error)
    typer.echo(f"cifar10 ready at {path}")


cache_app = typer.Typer(help="What featpipe's cache holds (extracted archives, decoded images, features, downloads).",
                        no_args_is_help=True)
app.add_typer(cache_app, name="cache")
CACHE_DIR_HELP = "Cache folder (default: $FEATPIPE_CACHE or the user cache)."


@cache_app.command("info")
def cache_info(cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP)) -> None:
    """List what is cached: kind, size, last use and path of every entry, least recently used first."""
    from .data.cache import cache_entries, cache_root, format_entries

    try:
        root = cache_root(cache_dir)
        typer.echo(format_entries(root, cache_entries(root)))
    except FeatpipeError as error:
        _fail(error)


@cache_app.command("clear")
def cache_clear(
    older_than: Optional[float] = typer.Option(None, "--older-than", metavar="DAYS", min=0,
                                               help="Only entries not used for DAYS days (default: everything)."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help=CACHE_DIR_HELP),
) -> None:
    """Delete cached entries (all, or those unused for --older-than DAYS); refuses a folder that is not featpipe's cache."""
    from .data.cache import clear_cache, cache_root, format_size

    try:
        root = cache_root(cache_dir)
        removed = clear_cache(root, older_than)
    except FeatpipeError as error:
        _fail(error)
    for entry in removed:
        typer.echo(f"removed {entry.kind} {entry.path} ({format_size(entry.size)})")
    typer.echo(f"cleared {len(removed)} entries, {format_size(sum(e.size for e in removed))} from {root}")


class _BenchGroup(TyperGroup):
    """`featpipe bench BATCH.yaml ...` runs a batch (the `run` sub-command is implied); `bench status DIR`."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter):
        """The group's help, then the options of `bench run`, which `featpipe bench ARGS` runs."""
        super().format_help(ctx, formatter)
        run = self.commands["run"]
        # the context class of the group's own context: Typer bundles its click, so none is imported
        with type(ctx)(run, info_name="run", parent=ctx) as run_ctx:
            run.format_help(run_ctx, formatter)


bench_app = typer.Typer(
    cls=_BenchGroup, no_args_is_help=True,
    help="Batches of runs, resumable, in parallel locally or on Dask: `featpipe bench BATCH.yaml [--out DIR]` "
         "runs one (same as `bench run`), `featpipe bench status DIR` lists its runs.",
)
app.add_typer(bench_app, name="bench")


@bench_app.command("run", cls=_MlflowOptionCommand)
def bench_run(
    sources: List[Path] = typer.Argument(..., help="A batch file (YAML with runs:), or one or more config files to sweep."),
    grid: List[str] = typer.Option([], "--grid", help="Sweep KEY=V1,V2,... over every config (cartesian product; repeatable). "
                                   "Commas inside [..], {..} or quotes do not split: mlp.hidden_sizes=[64],[128,64]."),
    zip_: List[str] = typer.Option([], "--zip", help="Sweep KEY=V1,V2,... together with the other --zip keys (equal lengths; repeatable)."),
    set_: List[str] = typer.Option([], "--set", help="Override KEY.PATH=VALUE in every run, of a batch file too (repeatable)."),
    name: Optional[str] = typer.Option(None, "--name", help="Batch name for config files on the command line (default: their names)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder of the batch (default: runs/NAME)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the batch file (for command-line sweeps) and the plan; write nothing."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Local worker processes (default: min(cores, memory / 2 GiB))."),
    force: bool = typer.Option(False, "--force", help="Redo runs that are already done."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first failed run."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run on an existing Dask cluster: tcp://HOST:PORT."),
    dask_local: Optional[int] = typer.Option(None, "--dask-local", min=1, help="Run on a local Dask cluster of N worker processes."),
    retries: int = typer.Option(2, "--retries", min=0, help="Times a run is restarted after its worker died."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No line per finished run, no progress bar."),
    mlflow: Optional[str] = typer.Option(None, "--mlflow", metavar="[URI]", help=MLFLOW_HELP),
) -> None:
    """Run a batch file, or configs swept on the command line: expand sweeps, skip finished runs, run the rest."""
    from .bench import bench_file
    from .bench.cli_batch import command_line_plan

    try:
        plan, text = command_line_plan(sources, grid=grid, zip_=zip_, set_=set_, name=name)
        if dry_run and text is not None:
            typer.echo(f"# the batch file these arguments stand for (save it and run `featpipe bench FILE`):\n{text}")
        tracker = None if dry_run else _open_tracker(mlflow)
        report = bench_file(plan, out, dry_run=dry_run, echo=typer.echo, jobs=jobs, force=force,
                            fail_fast=fail_fast, scheduler=scheduler, dask_local=dask_local, retries=retries,
                            progress=not quiet, command=sys.argv,
                            on_done=tracker.log_quietly if tracker is not None else None)
    except FeatpipeError as error:
        _fail(error)
    except OSError as error:
        _fail_os(error, out)
    except (KeyboardInterrupt, Exception) as error:
        _exit_if_interrupted(error, "what finished is kept; run the same command again to continue")
    if tracker is not None and report is not None and not report.interrupted:
        done = [report.out_dir / row["run_id"] for row in report.rows if row["status"] == "done"]
        for line in tracker.finish_batch(report.out_dir, done):
            typer.echo(line, err=line.startswith("warning:"))
    if report is not None and report.interrupted:
        raise typer.Exit(130)
    if report is not None and report.failed:
        raise typer.Exit(1)


@bench_app.command("status")
def bench_status(out_dir: Path = typer.Argument(..., help="A batch output folder (the --out of featpipe bench).")) -> None:
    """List the runs of a batch folder: done, failed, running and pending."""
    from .bench import batch_status, format_status

    try:
        typer.echo(format_status(batch_status(out_dir)))
    except FeatpipeError as error:
        _fail(error)


export_app = typer.Typer(help="Show finished run folders in other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("mlflow")
def export_mlflow(
    runs_dir: Path = typer.Argument(..., help="A run folder, a batch's output folder, or any folder holding run folders."),
    tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="Where to log (default: $MLFLOW_TRACKING_URI, else MLflow's local default, ./mlflow.db)."),
    experiment: Optional[str] = typer.Option(None, "--experiment", help="Experiment for every run (default: $MLFLOW_EXPERIMENT_NAME, else the batch's name, else 'featpipe')."),
) -> None:
    """Log finished run folders to MLflow; again is safe: a folder already logged updates its own MLflow run."""
    from .tracking import export_runs

    try:
        tracker, logged, skipped = export_runs(runs_dir, tracking_uri, experiment)
    except FeatpipeError as error:
        _fail(error)
    for entry in logged:
        typer.echo(entry.describe())
    for warning in skipped:
        typer.echo(f"skipped: {warning}", err=True)
    actions = {action: sum(e.action == action for e in logged) for action in ("created", "updated", "unchanged")}
    typer.echo(f"{len(logged)} run(s) at {tracker.uri}: " + ", ".join(f"{n} {a}" for a, n in actions.items()))


@app.command()
def demo(
    name: Optional[str] = typer.Argument(None, help="Demo to run; see --list."),
    list_: bool = typer.Option(False, "--list", help="List the demos and exit."),
    out: Path = typer.Option(Path("runs/demos"), "--out", help="Folder that receives the PNG figures."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    data: Optional[str] = typer.Option(None, "--data", help="templates only: digits (default), cifar10[:DIR], or an image folder / .tar.gz."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run one of the lecture's ideas as a demo: write its figures and print the numbers behind them."""
    from .demos import format_demo_list, run_demo

    if list_:
        typer.echo(format_demo_list())
        return
    if name is None:
        typer.echo(f"error: give a demo name (or --list); the demos are:\n{format_demo_list()}", err=True)
        raise typer.Exit(2)
    try:
        result = run_demo(name, out, seed=seed, progress=not quiet, data=data)
    except FeatpipeError as error:
        _fail(error)
    typer.echo(result.format())


if __name__ == "__main__":  # pragma: no cover
    app()
