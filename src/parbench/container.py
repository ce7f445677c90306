"""The image's entrypoint: runs the command it is given, and for `snakemake` also keeps the run's
products from dying with the container.

`docker run artifact snakemake --cores all`, typed literally, replaces the image's CMD but not its
ENTRYPOINT, so this runs for every container. For any command other than `snakemake` it simply
execs it. For `snakemake` it
- says, at the start and at the end, how to get results/ out when /artifact/results is not a
  mounted folder (then it lives only in the container's own file system);
- writes Snakemake's HTML report (results/report.html) after the run, failed or not, whenever the
  run left a markdown report newer than the HTML one: it needs `.snakemake/`, which lives in the
  container and goes with it;
- passes signals on to snakemake once (a terminal's Ctrl-C already reaches the whole foreground
  process group) and, as PID 1 without `docker run --init`, reaps the orphans Ray and
  multiprocessing leave behind.
The exit status is snakemake's; a run that succeeded but whose HTML report failed exits 1. A run
stopped by a signal (docker stop, Ctrl-C) gets no HTML report: it should end promptly.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .machine import Mount, mount_of, read_mounts

IMAGE_RESULTS = "/artifact/results"
VOLUME_FLAG = '-v "$PWD/results:/artifact/results"'
# Arguments after which snakemake runs no job: no results to point at, no report to write.
NO_RUN_ARGUMENTS = frozenset({"-n", "--dry-run", "--dryrun", "--lint", "-h", "--help", "-v", "--version",
                              "--list", "-l", "--list-rules", "--list-target-rules", "--summary", "-S",
                              "--detailed-summary", "-D", "--dag", "--rulegraph", "--filegraph", "--unlock",
                              "--report", "--containerize", "--generate-unit-tests", "--archive",
                              "--cleanup-metadata", "--list-changes", "--lc", "--delete-all-output"})
VALUE_SHORT_OPTIONS = "cjsdeRUTCPOqw"  # snakemake short options that take a value ("-call" is -c all)
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
SI_KERNEL = 0x80  # si_code of a signal the kernel sent, e.g. a terminal's Ctrl-C to its foreground group
# How often run_child looks for exited children without a SIGCHLD (see there).
REAP_INTERVAL_S = 0.5


def log(message: str) -> None:
    print(f"parbench: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------- where the results are


def results_persist(results: Path, mounts: Sequence[Mount]) -> bool:
    """Whether results/ outlives the container: it, or a folder above it, is mounted from outside.

    Inside a container the root mount is the container's own layer; anything else (a volume, a
    bind mount) survives it. Without a mount table nothing can be said: assume it persists.
    """
    if not mounts:
        return True
    mount = mount_of(results, list(mounts))
    return mount is not None and mount.mount_point != "/"


def copy_out_command(hostname: str | None) -> str:
    return f"docker cp {hostname or '<container>'}:{IMAGE_RESULTS} ."


def start_hint(results: Path, mounts: Sequence[Mount], hostname: str | None) -> str | None:
    if results_persist(results, mounts):
        return None
    return (f"{IMAGE_RESULTS} is not a mounted folder, so the results stay inside this container and go "
            f"with it. To get them on the host, either start the container with a volume "
            f"(mkdir -p results; docker run --user \"$(id -u):$(id -g)\" {VOLUME_FLAG} ...), or copy them out "
            f"after the run, before the container is removed: {copy_out_command(hostname)}")


def end_hint(results: Path, mounts: Sequence[Mount], hostname: str | None, reports: Sequence[str]) -> str:
    written = ", ".join(reports)
    if results_persist(results, mounts):
        return f"the results are in the folder mounted at {IMAGE_RESULTS} ({written})"
    return (f"the results ({written}) are in {IMAGE_RESULTS} inside this container only. Copy them out "
            f"now: {copy_out_command(hostname)} (the container's id begins with its hostname, "
            f"{hostname}, unless --hostname was given; `docker ps -a` lists it). A container started with "
            f"--rm is removed as it exits: then rerun with {VOLUME_FLAG}")


# ----------------------------------------------------------------------------------- HTML report


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path


def report_paths(args: Sequence[str]) -> ReportPaths:
    """The markdown report this snakemake invocation makes and the HTML report to write beside it."""
    outdir = Path("results/reference") if "reference_report" in args else Path("results")
    return ReportPaths(outdir / "report.md", outdir / "report.html")


def runs_jobs(args: Sequence[str]) -> bool:
    """False for invocations that only plan, inspect or report (dry runs, --lint, --report, ...)."""
    for arg in args:
        if arg in NO_RUN_ARGUMENTS or arg.split("=", 1)[0] in NO_RUN_ARGUMENTS:
            return False
        # a cluster of short flags such as -np (but not a short option with its value, as in -call)
        if re.fullmatch(r"-[A-Za-z]{2,}", arg) and arg[1] not in VALUE_SHORT_OPTIONS and "n" in arg:
            return False
    return True


def html_report_due(paths: ReportPaths) -> bool:
    """The run left a markdown report that is newer than the HTML one (or there is no HTML one)."""
    if not paths.markdown.exists():
        return False
    return not paths.html.exists() or paths.html.stat().st_mtime < paths.markdown.stat().st_mtime


# --------------------------------------------------------------------------- running a child


def forwards(si_code: int) -> bool:
    """A terminal's signals (sent by the kernel to the whole foreground process group) have
    reached the child already; anything sent to this process alone (docker stop, docker kill,
    tini, Docker's signal proxy) must be passed on."""
    return si_code != SI_KERNEL


STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})


@dataclass(frozen=True)
class ChildResult:
    status: int
    stop_requested: bool  # a signal asked the run to stop (docker stop, Ctrl-C)


def run_child(argv: Sequence[str]) -> ChildResult:
    """Run `argv` to its end, passing signals on and reaping orphans."""
    waited = {signal.SIGCHLD, *FORWARDED_SIGNALS}
    # Blocked before the child exists, so that neither its exit nor a signal can slip past
    # the wait below; the child starts with nothing blocked.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    try:
        try:
            pid = os.posix_spawnp(argv[0], list(argv), os.environ, setsigmask=())
        except FileNotFoundError:
            log(f"command not found: {argv[0]}")
            return ChildResult(127, False)
        stop_requested = False
        while True:
            # Bounded: the mask blocks SIGCHLD in this thread only. In a process with other threads
            # (numpy's OpenBLAS threads in a test process), a SIGCHLD that arrives while this
            # thread is not waiting goes to one of them and is discarded, and an unbounded wait
            # would never return (CI hung here). Reaping every REAP_INTERVAL_S finds the exit anyway.
            info = signal.sigtimedwait(waited, REAP_INTERVAL_S)
            if info is not None and info.si_signo != signal.SIGCHLD:
                stop_requested |= info.si_signo in STOP_SIGNALS
                if forwards(info.si_code):
                    os.kill(pid, info.si_signo)
                continue
            status = _reap(pid)
            if status is not None:
                return ChildResult(status, stop_requested)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _reap(child: int) -> int | None:
    """Reap every exited process (as PID 1 orphans land here); the child's exit status once it is among them."""
    found = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return found
        if pid == 0:
            return found
        if pid == child:
            found = os.waitstatus_to_exitcode(status)
            found = 128 - found if found < 0 else found  # killed by signal N: the shell's 128 + N


# ---------------------------------------------------------------------------------- entrypoint


def run_snakemake(argv: Sequence[str], results: Path = Path("results"),
                  mounts: Sequence[Mount] | None = None, hostname: str | None = None) -> int:
    mounts = read_mounts() if mounts is None else mounts
    hostname = hostname if hostname is not None else socket.gethostname()
    args = list(argv[1:])
    real_run = runs_jobs(args)
    if real_run and (hint := start_hint(results, mounts, hostname)):
        log(hint)

    run = run_child(argv)
    status = run.status
    if not real_run:
        return status

    paths = report_paths(args)
    if run.stop_requested:
        log("the run was asked to stop: no HTML report")
    elif html_report_due(paths):
        log(f"writing Snakemake's HTML report: {paths.html}")
        report_status = run_child([argv[0], *args, "--report", str(paths.html)]).status
        if report_status != 0:
            log(f"the HTML report failed (exit status {report_status}); the markdown report {paths.markdown} "
                f"is complete")
            status = status or 1
    reports = [str(p) for p in (paths.markdown, paths.html) if p.exists()]
    log(end_hint(results, mounts, hostname, reports or ["no report was written"]))
    return status


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv) or ["snakemake", "--cores", "all"]
    if Path(argv[0]).name != "snakemake":
        try:
            os.execvp(argv[0], argv)
        except FileNotFoundError:
            log(f"command not found: {argv[0]}")
            return 127
    return run_snakemake(argv)


if __name__ == "__main__":
    sys.exit(main())
