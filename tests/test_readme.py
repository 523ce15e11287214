"""The README as a tested document: every shell block in it runs, as written, here.

Each ```bash block is run line by line (a ``\\`` continues a line; comments are dropped), and
each console block (``$ command`` lines followed by what they print) is run and its key lines
are checked: an error line verbatim, the other lines' shape (numbers, paths and run ids vary).
Every command runs in bash with the README's set-up done (``. .venv/bin/activate``), in a
scratch directory that holds the checkout's files (so ``make run`` works there) and gets its own
``mlflow.db``, in README order, each expected to exit 0 unless it shows an error.

A comment before a block, ``<!-- readme-test: OPTIONS -->``, says how (options separated by ``;``):

- ``shrink``: sizes are made small by overrides the test adds (``n``, ``repeats``, ``warmup``, a
  short interference budget, no plots; ``make run ARGS=...``), so that the whole README runs in minutes;
- ``serve PORT``: the command is a server: it must answer on 127.0.0.1:PORT, then it is stopped;
- ``after a sweep``: the test first runs a small sweep of its own (:data:`SETUP_SWEEP`; the one it
  ran for an earlier block serves again while it is still the latest sweep, untouched), and
  ``RUN_ID`` and ``multirun/DATE/TIME`` stand for its run id and output folder;
- ``needs mywork.py``: the README's example module is written first;
- ``not run here: REASON`` (a block), ``COMMAND: not run here (REASON)`` (one command of it):
  another machine, a SLURM cluster, the team's server... Such blocks are never silently
  skipped: :func:`test_blocks_not_run_here_say_why` lists them and checks each gives a reason.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import HELD_LOCK, NO_PLOTS, QUIET_WAIT, RAY_GROUP, REPO, clean_env

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]

README = REPO / "README.md"
MARKER = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->")
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
# a short wait for a quiet machine and no plots, as every test's launch (conftest.with_test_settings)
SHRINK = ["repeats=2", "warmup=0", QUIET_WAIT, NO_PLOTS]
# make run keeps the quick preset's repeats=auto (its estimate line says so): few repetitions through its limit
SHRINK_AUTO = ["max_repeats=6", "warmup=0", QUIET_WAIT, NO_PLOTS]
SMALL_N = ["1e5", "2e5", "3e5", "4e5"]
SETUP_SWEEP = "parsweep -m backend=serial,threading workers=1,2 n=1e5 repeats=3 warmup=0 quiet=true " + QUIET_WAIT + " " + NO_PLOTS
SCRATCH_SKIP = {".git", "mlflow.db", "mlruns", "multirun", "outputs", "report"}
MYWORK = '''\
def chunk(start, end):
    return sum(range(start, end))


def answer(n):
    return n * (n - 1) // 2
'''


@dataclass
class Block:
    line: int  # where it starts in the README
    kind: str  # "bash" or "console"
    text: str
    options: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"

    def option(self, name: str) -> str | None:
        for option in self.options:
            if option == name or option.startswith(name + " ") or option.startswith(name + ":"):
                return option[len(name):].strip(" :") or name
        return None

    def skipped_commands(self) -> dict[str, str]:
        found = {}
        for option in self.options:
            command, sep, reason = option.partition(": not run here")
            if sep and command.strip():
                found[command.strip()] = reason.strip(" ()")
        return found


def blocks() -> list[Block]:
    """Every shell block of the README (bash blocks, and code blocks of ``$ command`` lines)."""
    lines = README.read_text().splitlines()
    found, options, index = [], [], 0
    while index < len(lines):
        marker = MARKER.search(lines[index])
        if marker:
            options = [o.strip() for o in marker.group(1).split(";") if o.strip()]
            index += 1
            continue
        fence = FENCE.match(lines[index])
        if not fence:
            if lines[index].strip():
                options = []
            index += 1
            continue
        indent, language = fence.group(1), fence.group(2)
        start = index + 1
        index += 1
        body = []
        while index < len(lines) and not FENCE.match(lines[index]):
            body.append(lines[index][len(indent):] if lines[index].startswith(indent) else lines[index])
            index += 1
        index += 1
        text = "\n".join(body)
        if language == "bash":
            found.append(Block(start, "bash", text, options))
        elif language == "" and body and body[0].startswith("$ "):
            found.append(Block(start, "console", text, options))
        options = []
    return found


def strip_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` inside quotes stays)."""
    quote = None
    for position, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position].rstrip()
    return line.rstrip()


def commands(block: Block) -> list[tuple[str, list[str]]]:
    """The block's commands, each with the lines it is expected to print (console blocks)."""
    out: list[tuple[str, list[str]]] = []
    if block.kind == "console":
        for line in block.text.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            elif out:
                out[-1][1].append(line)
        return out
    pending = ""
    heredoc = None
    for raw in block.text.splitlines():
        if heredoc is not None:
            pending += "\n" + raw
            if raw.strip() == heredoc:
                out.append((pending, []))
                pending, heredoc = "", None
            continue
        line = strip_comment(raw)
        if not line.strip() and not pending:
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        here = re.search(r"<<'?(\w+)'?", pending)
        if here:
            heredoc = here.group(1)
            continue
        out.append((pending.strip(), []))
        pending = ""
    return out


class Workspace:
    """A scratch directory with the checkout's files, where the README's commands run."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "parsweep"
        self.dir.mkdir()
        for entry in REPO.iterdir():
            if entry.name not in SCRATCH_SKIP:
                (self.dir / entry.name).symlink_to(entry)
        (self.dir / "mywork.py").write_text(MYWORK)
        self.env = clean_env()
        self.env["PATH"] = f"{REPO / '.venv' / 'bin'}:{self.env['PATH']}"
        self.env["VIRTUAL_ENV"] = str(REPO / ".venv")
        self.setup: tuple[str, str, int | None] | None = None  # the last setup sweep, see setup_sweep

    def latest_sweep(self) -> tuple[str, str, int | None]:
        """The latest sweep: its run id, output folder (relative) and end time (a resume ends it again)."""
        import mlflow.tracking

        client = mlflow.tracking.MlflowClient(f"sqlite:///{self.dir / 'mlflow.db'}")
        experiment = client.get_experiment_by_name("parsweep")
        assert experiment is not None, "no sweep ran before a block that needs one"
        (run,) = client.search_runs([experiment.experiment_id], "tags.`parsweep.role` = 'sweep'", max_results=1,
                                    order_by=["attributes.start_time DESC"])
        folder = Path(run.data.tags["parsweep.sweep_dir"]).relative_to(self.dir)
        return run.info.run_id, str(folder), run.info.end_time

    def setup_sweep(self, block: Block) -> tuple[str, str]:
        """The sweep a block ``after a sweep`` works on: :data:`SETUP_SWEEP`'s, run again unless the
        latest sweep is still the one it ran last, untouched since (a reproduction or a resume since
        then runs it again), so that every such block finds the store as after a fresh setup sweep."""
        if self.setup is None or self.latest_sweep() != self.setup:
            done = subprocess.run(["bash", "-c", SETUP_SWEEP], cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"{block.id}: the sweep before it failed\n{done.stdout}{done.stderr}"
            self.setup = self.latest_sweep()
        return self.setup[0], self.setup[1]


def shrink(command: str) -> str:
    """Small sizes through overrides added to the command (the README's own values stay)."""
    words = shlex.split(command)
    if words[:2] == ["make", "run"]:
        return command + " ARGS=" + shlex.quote(" ".join(["n=" + ",".join(SMALL_N[:2]), *SHRINK_AUTO]))
    if not any(word in ("parsweep", "python") for word in words) or "--cfg" in words:
        return command
    if "python" in words and "runner" not in words:
        return command
    out = []
    for word in words:
        if word.startswith("n="):
            count = len(word[2:].split(","))
            word = "n=" + ",".join(SMALL_N[:count])
        out.append(word)
    if not any(word.startswith("n=") for word in out) and "-m" in out:
        out.append("n=" + ",".join(SMALL_N[:2]))
    out += [o for o in SHRINK if not any(w.startswith(o.split("=")[0] + "=") for w in out)]
    prefix = [w for w in out if re.match(r"^[A-Z_]+=", w)]
    return " ".join(shlex.quote(w) if not re.match(r"^[A-Z_]+=", w) else w for w in prefix + [w for w in out if w not in prefix])


def shape(line: str) -> re.Pattern[str]:
    """A printed line's shape: its words, with what varies (numbers, paths, ids) left open."""
    words = re.sub(r"±\s+", "±", line).split()
    if any(w.endswith("reps)") for w in words):
        words = words[: next(i for i, w in enumerate(words) if w.endswith("reps)")) + 1]
    parts = [r"\S+" if re.search(r"[\d/]", word) else re.escape(word) for word in words]
    if "->" in words[1:]:
        # The launch's estimate line names the host lock when another parsweep held it as the launch
        # began: under make test, another worker's trial, at any moment (the README says so above it).
        arrow = words.index("->", 1)
        parts[arrow - 1] += HELD_LOCK
    if parts and words[-1].endswith("reps)"):
        # How many repetitions were measured again depends on what else the machine ran meanwhile,
        # so "(5 reps)" also matches "(2 reps, 2 measured again)": the count and "reps" still must be there.
        parts[-1] = r"reps(?:\)|,\s+\d+\s+measured\s+again\))"
    return re.compile(r"^\s*" + r"\s+".join(parts))


def port_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
            return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("readme"))


RUNNABLE = [b for b in blocks() if not b.option("not run here")]

# Under pytest-xdist (make test) the README runs as three parts, each in README order on one worker
# with a workspace of its own (a part that lands on a worker after another shares its workspace,
# which every block tolerates: a block that reads a sweep runs its own first, "after a sweep").
# A part starts at the section whose heading begins with one of these and runs to the next part.
PARTS = ["## Quickstart", "## Interpreters", "## Reporting"]


def part(block: Block) -> str:
    """The part of the README ``block`` is in: ``readme-N``, N counting :data:`PARTS` from 0."""
    above = README.read_text().splitlines()[: block.line]
    started = [k for k, heading in enumerate(PARTS) if any(line.startswith(heading) for line in above)]
    return f"readme-{max(started, default=0)}"


def run(workspace: Workspace, block: Block, command: str, expected: list[str], sweep: tuple[str, str] | None) -> None:
    if sweep is not None:
        command = command.replace("RUN_ID", sweep[0]).replace("multirun/DATE/TIME", sweep[1])
    if block.option("shrink"):
        command = shrink(command)
    port = block.option("serve")
    if port:
        server = subprocess.Popen(["bash", "-c", command], cwd=workspace.dir, env=workspace.env, start_new_session=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 120
            while not port_answers(int(port)):
                assert server.poll() is None, f"{block.id}: `{command}` ended: {server.stdout.read() if server.stdout else ''}"
                assert time.monotonic() < deadline, f"{block.id}: `{command}` never answered on port {port}"
                time.sleep(0.5)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        return
    done = subprocess.run(["bash", "-c", command], cwd=workspace.dir, env=workspace.env, capture_output=True, text=True, timeout=800)
    output = done.stdout + done.stderr
    errors = [line for line in expected if line.startswith("parsweep: error:")]
    want = 2 if errors else 0
    assert done.returncode == want, f"{block.id}: `{command}` exited {done.returncode}\n{output}"
    assert "Traceback" not in output, f"{block.id}: `{command}`\n{output}"
    for line in errors:
        assert line in done.stderr.splitlines(), f"{block.id}: `{command}` did not print: {line}\n{output}"
    for line in expected:
        if line.startswith(("parsweep: error:", " ", "...")) or not line.strip():
            continue
        assert any(shape(line).search(re.sub(r"±\s+", "±", actual)) for actual in output.splitlines()), (
            f"{block.id}: `{command}` printed nothing shaped like: {line}\n{output}"
        )


def marks(block: Block) -> list[pytest.MarkDecorator]:
    """A block that starts Ray runs in the Ray tests' group (see :data:`conftest.RAY_GROUP`)."""
    if re.search(r"\bray\b", block.text):
        return [pytest.mark.xdist_group(RAY_GROUP)]
    return [pytest.mark.xdist_group(part(block))]


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id, marks=marks(b)) for b in RUNNABLE])
def test_every_readme_command_works_as_written(workspace: Workspace, block: Block) -> None:
    skipped = block.skipped_commands()
    sweep = None
    if block.option("after a sweep"):
        sweep = workspace.setup_sweep(block)
    ran = 0
    for command, expected in commands(block):
        if command in skipped:
            continue
        run(workspace, block, command, expected, sweep)
        ran += 1
    assert ran, f"{block.id}: nothing to run"


def test_blocks_not_run_here_say_why() -> None:
    """What cannot run here is listed here (never silently skipped), each with its reason."""
    listed = []
    for block in blocks():
        reason = block.option("not run here")
        if reason:
            listed.append((block.id, reason))
        for command, why in block.skipped_commands().items():
            listed.append((f"{block.id}: {command}", why))
    for where, reason in listed:
        assert len(reason) > 10, f"{where}: not run here, without a reason"
    print("\nREADME blocks not run here:\n" + "\n".join(f"  {where}: {reason}" for where, reason in listed))
    assert listed, "every block runs here: nothing to list"
    assert len(RUNNABLE) >= 15, f"only {len(RUNNABLE)} README blocks run: the parser lost some"


def test_make_clean_leaves_git_status_clean(tmp_path: Path) -> None:
    """``make run``, the README's ``parsweep-report --out report/``, then ``make clean``: in a git
    checkout of the tracked files, with this checkout's environment linked in, nothing is left."""
    checkout = tmp_path / "clone"
    checkout.mkdir()
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    import shutil

    for name in filter(None, tracked.split("\0")):
        source = REPO / name
        if source.is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name)  # mtimes kept: make sees .venv up to date
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "tracked files"]):
        subprocess.run(git + command, cwd=checkout, check=True, capture_output=True)
    (checkout / ".venv").symlink_to(REPO / ".venv")
    env = clean_env()
    steps = [
        # -o: the linked environment counts as installed (a copy's pyproject.toml may look newer)
        "make -o .venv/bin/.installed run ARGS=" + shlex.quote(" ".join(["n=" + ",".join(SMALL_N[:2]), *SHRINK, "quiet=true"])),
        ".venv/bin/parsweep-report --out report/ --format csv > /dev/null",
    ]
    for step in steps:
        done = subprocess.run(["bash", "-c", step], cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"`{step}` exited {done.returncode}\n{done.stdout}{done.stderr}"
    made = {path.name for path in checkout.iterdir()}
    assert {"mlflow.db", "mlruns", "multirun", "report"} <= made, made
    status = subprocess.run(["git", "status", "--porcelain"], cwd=checkout, capture_output=True, text=True, check=True).stdout
    assert status.split() == ["??", ".venv"], status  # report/ and the store are ignored; the link is not a folder
    done = subprocess.run(["make", "clean"], cwd=checkout, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    status = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=checkout, capture_output=True, text=True, check=True).stdout
    leftover = [line for line in status.splitlines() if "__pycache__" not in line]
    assert leftover == [], status
    assert (REPO / ".venv" / "bin" / "python").exists()  # the link went, not what it points to


def test_the_pyperf_extra_is_declared_and_satisfied() -> None:
    """``pip install 'parsweep[pyperf]'`` (the README's line) names an extra the installed parsweep
    declares, and this environment satisfies it (so ``python -m pyperf stats`` above is its test)."""
    import importlib.metadata

    from packaging.requirements import Requirement

    declared = [Requirement(text) for text in importlib.metadata.requires("parsweep") or []]
    (requirement,) = [r for r in declared if r.marker is not None and r.marker.evaluate({"extra": "pyperf"})
                      and not r.marker.evaluate({"extra": ""}) and r.name == "pyperf"]
    assert requirement.specifier.contains(importlib.metadata.version("pyperf"))


def _readme_lines_after(marker: str) -> list[str]:
    """The README's plain code block lines (indented list items too) that start with ``marker``."""
    return [line.strip() for line in README.read_text().splitlines() if line.strip().startswith(marker)]


def test_an_interrupted_sweep_ends_as_the_readme_says(tmp_path: Path) -> None:
    """The README's Ctrl-C example, for real: its command interrupted after its first group, the
    resume command it prints, then that command: the report counts the re-measured runs as done."""
    from test_faults_support import Background

    (command,) = [line for line in _readme_lines_after("parsweep -m backend=serial,threading workers=1,2 n=1e7,2e7")
                  if "resume" not in line]
    (resume_line,) = _readme_lines_after("parsweep: to finish it")
    (killed_line,) = [line for line in _readme_lines_after("parsweep: sweep ") if "marked KILLED" in line]
    # as in the README: the environment activated, so the shell finds `parsweep`
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"}
    sweep = Background(shlex.split(command)[1:], tmp_path, env=env, command=[str(REPO / ".venv" / "bin" / "parsweep")],
                       settings=False)  # the command as written: it prints it back to resume it
    try:
        # the n=1e7 group is recorded; the n=2e7 group comes next: once its trial process runs, it is
        # being measured (right after the line, a busy machine could deliver the Ctrl-C before that
        # group had begun)
        sweep.wait_for_trial_process("[3/6]")
        os.killpg(sweep.pid, signal.SIGINT)
        assert sweep.finish(timeout=60) == 130, sweep.output()
    finally:
        if sweep.process.poll() is None:
            sweep.kill()
    for documented in (killed_line, resume_line):
        assert any(shape(documented).search(line) for line in sweep.stderr), f"no line shaped like: {documented}\n{sweep.output()}"
    printed = next(line for line in sweep.stderr if line.startswith("parsweep: to finish it"))
    again = printed.split(": ", 2)[2]
    assert again == command + " resume=true", printed
    done = subprocess.run(["bash", "-c", again], cwd=tmp_path, env=clean_env(**env),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    for documented in (*_readme_lines_after("6 of 6 trials finished"), *_readme_lines_after("3 runs stopped before")):
        assert any(shape(documented).search(line) for line in done.stdout.splitlines()), f"{documented}\n{done.stdout}"
    assert "not finished" not in done.stdout
