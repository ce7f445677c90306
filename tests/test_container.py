"""The image's entrypoint (parbench.container): where the results are, the HTML report after the
run, signals passed on once. A stand-in `snakemake` script plays the workflow (fast: no Docker,
no benchmark)."""

import fcntl
import os
import signal
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN
from parbench import container
from parbench.machine import Mount, parse_mountinfo

RESULTS = Path("/artifact/results")  # where the entrypoint runs in the image: /artifact
CONTAINER_ROOT = Mount("/", "overlay", "overlay")
WITH_VOLUME = [CONTAINER_ROOT, Mount("/artifact/results", "ext4", "/dev/sda1")]
WITH_WHOLE_FOLDER = [CONTAINER_ROOT, Mount("/artifact", "ext4", "/dev/sda1")]

FAKE_SNAKEMAKE = """#!/usr/bin/env bash
# Stands in for snakemake: logs its arguments, writes the markdown report (or, with --report, the
# HTML one), records the signals it gets, exits with $FAKE_STATUS.
printf '%s\n' "$*" >> "$FAKE_CALLS"
if [[ " $* " == *" --report "* ]]; then
    out="${@: -1}"; mkdir -p "$(dirname "$out")"; echo html > "$out"; exit "${FAKE_REPORT_STATUS:-0}"
fi
if [[ -n "$FAKE_OWN_GROUP" && -z "$FAKE_REGROUPED" ]]; then  # leave the terminal's foreground group
    FAKE_REGROUPED=1 exec setsid "$0" "$@"
fi
trap 'echo INT >> "$FAKE_SIGNALS"' INT
trap 'echo TERM >> "$FAKE_SIGNALS"; exit 143' TERM
[[ " $* " == *" -n "* ]] || { mkdir -p "$FAKE_OUTDIR"; echo md > "$FAKE_OUTDIR/report.md"; }
echo started > "$FAKE_STARTED"
if [[ -n "$FAKE_WAIT" ]]; then
    for _ in $(seq 1 "$FAKE_WAIT"); do sleep 0.1; [[ -s "$FAKE_SIGNALS" ]] && break; done
    sleep 0.5
fi
exit "${FAKE_STATUS:-0}"
"""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A project folder with the stand-in snakemake first on PATH; returns the folder."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "snakemake"
    script.write_text(FAKE_SNAKEMAKE)
    script.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    for name in ("calls", "signals", "started"):
        monkeypatch.setenv(f"FAKE_{name.upper()}", str(tmp_path / name))
    monkeypatch.setenv("FAKE_OUTDIR", "results")
    return tmp_path


def calls(fake) -> list[str]:
    path = fake / "calls"
    return path.read_text().splitlines() if path.exists() else []


# ------------------------------------------------------------------------------- pure decisions


def test_results_persist_only_when_they_or_a_folder_above_are_mounted():
    results = "/artifact/results"
    assert not container.results_persist(results, [CONTAINER_ROOT])
    assert container.results_persist(results, WITH_VOLUME)
    assert container.results_persist(results, WITH_WHOLE_FOLDER)
    assert not container.results_persist(results, [CONTAINER_ROOT, Mount("/artifact/resultsX", "ext4", "x")])
    assert container.results_persist(results, [])  # no mount table: nothing to warn about


def test_the_start_hint_names_the_volume_and_docker_cp():
    hint = container.start_hint("/artifact/results", [CONTAINER_ROOT], "3f2a1b0c9d8e")
    assert '-v "$PWD/results:/artifact/results"' in hint
    assert "docker cp 3f2a1b0c9d8e:/artifact/results ." in hint
    assert container.start_hint("/artifact/results", WITH_VOLUME, "3f2a1b0c9d8e") is None
    assert "docker cp <container>:" in container.start_hint("/artifact/results", [CONTAINER_ROOT], None)


def test_the_end_hint_says_where_the_reports_are():
    reports = ["results/report.md", "results/report.html"]
    inside = container.end_hint("/artifact/results", [CONTAINER_ROOT], "abc", reports)
    assert "results/report.html" in inside and "docker cp abc:/artifact/results ." in inside
    assert "--rm" in inside and '-v "$PWD/results:/artifact/results"' in inside
    mounted = container.end_hint("/artifact/results", WITH_VOLUME, "abc", reports)
    assert "mounted at /artifact/results" in mounted and "docker cp" not in mounted


def test_a_docker_style_mount_table_is_read_for_the_results_folder():
    table = ("1 0 0:52 / / rw - overlay overlay rw\n"
             "2 1 259:1 /home/me/results /artifact/results rw - ext4 /dev/nvme0n1p1 rw\n")
    assert container.results_persist("/artifact/results", parse_mountinfo(table))
    assert not container.results_persist("/artifact/results", parse_mountinfo(table.splitlines()[0]))


@pytest.mark.parametrize("args, runs", [
    (["--cores", "all"], True),
    (["--cores", "all", "--configfile", "config/quick.yaml"], True),
    (["-call", "reference_report"], True),
    (["-n"], False), (["--dry-run"], False), (["-np"], False), (["-pn", "--cores", "1"], False),
    (["--lint"], False), (["--report", "x.html"], False), (["--report=x.html"], False),
    (["--unlock"], False), (["--version"], False), (["-call", "-F"], True),
])
def test_which_invocations_run_jobs(args, runs):
    assert container.runs_jobs(args) is runs


def test_report_paths_follow_the_target():
    assert container.report_paths(["--cores", "all"]).html.as_posix() == "results/report.html"
    ref = container.report_paths(["--cores", "all", "reference_report"])
    assert ref.markdown.as_posix() == "results/reference/report.md"
    assert ref.html.as_posix() == "results/reference/report.html"


def test_html_report_is_due_when_missing_or_older(tmp_path):
    paths = container.ReportPaths(tmp_path / "report.md", tmp_path / "report.html")
    assert not container.html_report_due(paths)  # no markdown report: the run made nothing
    paths.markdown.write_text("md")
    assert container.html_report_due(paths)
    paths.html.write_text("html")
    os.utime(paths.html, (time.time() + 5, time.time() + 5))
    assert not container.html_report_due(paths)
    os.utime(paths.markdown, (time.time() + 10, time.time() + 10))
    assert container.html_report_due(paths)


def test_only_signals_not_sent_by_the_kernel_are_forwarded():
    assert container.forwards(0)  # SI_USER: kill(), docker stop, tini
    assert not container.forwards(container.SI_KERNEL)  # a terminal's Ctrl-C reached the group already


@pytest.mark.timeout(120)
def test_a_child_exit_is_seen_when_another_thread_takes_its_sigchld():
    # Another thread that does not block SIGCHLD (here a busy one; in a test process numpy's
    # OpenBLAS threads) gets and discards about 1 in 5 SIGCHLDs of a child that exits at once. An
    # unbounded wait for SIGCHLD then never returns; pytest-timeout fails this test if one does.
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            pass

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    try:
        results = [container.run_child(["true"]) for _ in range(40)]
    finally:
        stop.set()
        thread.join()
    assert results == [container.ChildResult(0, False)] * 40


# ------------------------------------------------------------------- with a stand-in snakemake


def test_a_run_writes_the_html_report_and_says_where_results_are(fake, capsys):
    status = container.run_snakemake(["snakemake", "--cores", "all", "--configfile", "config/quick.yaml"],
                                     results=RESULTS, mounts=[CONTAINER_ROOT],
                                     hostname="c0ffee")
    assert status == 0
    assert calls(fake) == ["--cores all --configfile config/quick.yaml",
                           "--cores all --configfile config/quick.yaml --report results/report.html"]
    assert (fake / "project/results/report.html").read_text() == "html\n"
    err = capsys.readouterr().err
    first, last = err.index("is not a mounted folder"), err.rindex("docker cp c0ffee:/artifact/results .")
    assert first < err.index("writing Snakemake's HTML report") < last
    assert "results/report.md, results/report.html" in err[last - 300:]


def test_a_failed_run_still_gets_its_html_report_and_keeps_its_status(fake, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_STATUS", "1")
    code = container.run_snakemake(["snakemake", "--cores", "all"], results=RESULTS, mounts=WITH_VOLUME, hostname="x")
    assert code == 1
    assert calls(fake)[-1] == "--cores all --report results/report.html"
    err = capsys.readouterr().err
    assert "not a mounted folder" not in err and "mounted at /artifact/results" in err


def test_a_failed_html_report_fails_a_good_run(fake, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_REPORT_STATUS", "2")
    code = container.run_snakemake(["snakemake", "--cores", "all"], results=RESULTS, mounts=WITH_VOLUME, hostname="x")
    assert code == 1
    assert "the HTML report failed (exit status 2)" in capsys.readouterr().err


def test_reference_report_gets_its_own_html(fake, monkeypatch):
    monkeypatch.setenv("FAKE_OUTDIR", "results/reference")
    args = ["snakemake", "--cores", "all", "reference_report"]
    assert container.run_snakemake(args, results=RESULTS, mounts=WITH_VOLUME, hostname="x") == 0
    assert calls(fake)[-1] == "--cores all reference_report --report results/reference/report.html"
    assert not (fake / "project/results/report.html").exists()


def test_dry_runs_and_up_to_date_runs_write_no_report(fake, monkeypatch, capsys):
    assert container.run_snakemake(["snakemake", "-n"], results=RESULTS, mounts=[CONTAINER_ROOT], hostname="x") == 0
    assert calls(fake) == ["-n"]
    assert capsys.readouterr().err == ""  # no results to point at
    container.run_snakemake(["snakemake", "--cores", "all"], results=RESULTS, mounts=WITH_VOLUME, hostname="x")
    (fake / "calls").unlink()
    monkeypatch.setenv("FAKE_OUTDIR", "elsewhere")  # this time the run leaves results/report.md alone
    os.utime("results/report.md", (time.time() - 60, time.time() - 60))
    container.run_snakemake(["snakemake", "--cores", "all"], results=RESULTS, mounts=WITH_VOLUME, hostname="x")
    assert calls(fake) == ["--cores all"]


def test_other_commands_are_executed_as_given(tmp_path):
    entry = str(BIN / "parbench-entrypoint")
    result = subprocess.run([entry, sys.executable, "-c", "import sys; print(sys.argv[1:])", "a b", "-n"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "['a b', '-n']" and result.stderr == ""
    missing = subprocess.run([entry, "no-such-command-here"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 127 and "command not found: no-such-command-here" in missing.stderr


def _start_entrypoint(fake, extra_env=None, **kwargs):
    env = {**os.environ, "FAKE_WAIT": "100", **(extra_env or {})}  # waits up to 10 s for a signal
    proc = subprocess.Popen([str(BIN / "parbench-entrypoint"), "snakemake", "--cores", "all"], env=env,
                            **kwargs)
    deadline = time.monotonic() + 30
    while not (fake / "started").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "the stand-in snakemake did not start"
        time.sleep(0.05)
    return proc


def test_docker_stop_reaches_snakemake_once(fake):
    proc = _start_entrypoint(fake, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.send_signal(signal.SIGTERM)  # what docker stop sends to the container's first process
    assert proc.wait(timeout=30) == 143
    assert (fake / "signals").read_text().split() == ["TERM"]
    assert calls(fake) == ["--cores all"]  # stopping: no HTML report afterwards
    assert not (fake / "project/results/report.html").exists()


def _ctrl_c_in_a_terminal(fake, extra_env=None) -> int:
    """Run the entrypoint as `docker run -it` does (owning a terminal) and type Ctrl-C."""
    primary, secondary = os.openpty()

    def own_the_terminal():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        # A container's first process starts with SIGINT at its default; a test run started in the
        # background by a shell ignores it, every child would inherit that, and bash cannot trap a
        # signal ignored on entry (the stand-in would never see the Ctrl-C).
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    try:
        proc = _start_entrypoint(fake, extra_env, stdin=secondary, stdout=secondary, stderr=secondary,
                                 start_new_session=True, preexec_fn=own_the_terminal)
        os.write(primary, b"\x03")
        return proc.wait(timeout=60)
    finally:
        os.close(secondary)
        os.close(primary)


def test_ctrl_c_in_a_terminal_reaches_snakemake(fake):
    assert _ctrl_c_in_a_terminal(fake) == 0
    assert "INT" in (fake / "signals").read_text().split()


def test_a_terminals_ctrl_c_is_not_passed_on_a_second_time(fake):
    # docker run -it: the kernel sends Ctrl-C's SIGINT to the terminal's whole foreground process
    # group, snakemake included; passing it on as well would make it two. Here the stand-in leaves
    # that group, so any SIGINT it gets can only come from the entrypoint: it must get none.
    assert _ctrl_c_in_a_terminal(fake, {"FAKE_OWN_GROUP": "1", "FAKE_WAIT": "20"}) == 0
    assert not (fake / "signals").exists()
