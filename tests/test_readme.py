"""Every `nnc` command the README shows runs as written, in a folder that holds only the
repository's architectures/ and tests/fixtures/ (as a fresh clone does), in the order
the README gives them; and the README's transcript of an error is what nnc prints.

A command that serves (`nnc view … --serve`) runs until it is stopped: it is run on a
free port (`--port 0` added, as 8000 may be taken), must answer its page, and must stop
cleanly on Ctrl-C (SIGINT)."""
import re
import shutil
import signal
import subprocess
import sys
import urllib.request

import pytest
from conftest import ROOT, ctrl_c_reaches_it

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```[a-z]*\n(.*?)```", README, re.S)


def commands() -> list[str]:
    """The README's `nnc …` lines, with their comments and prompts taken off."""
    found = []
    for block in BLOCKS:
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line.removeprefix("$ ")).strip()
            if line.startswith("nnc ") and line != "nnc check bad.arch":
                found.append(line)
    return found


def transcript() -> tuple[str, str]:
    """The README's `$ cat bad.arch` and `$ nnc check bad.arch` example."""
    block = next(b for b in BLOCKS if b.startswith("$ cat bad.arch"))
    source, _, output = block.removeprefix("$ cat bad.arch\n").partition("$ nnc check bad.arch\n")
    return source, output


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "architectures", folder / "architectures")
    shutil.copytree(ROOT / "tests" / "fixtures", folder / "tests" / "fixtures")
    return folder


def nnc(command: str, folder, timeout: float = 900) -> subprocess.CompletedProcess:
    # through bash, for the README's globs; `nnc` is this interpreter's nnc
    line = command.replace("nnc ", f"{sys.executable} -m nnc ", 1)
    return subprocess.run(["bash", "-c", line], cwd=folder, capture_output=True, text=True,
                          timeout=timeout)


def test_the_readme_shows_the_commands_this_test_runs():
    shown = commands()
    assert len(shown) >= 15
    assert any(c.startswith("nnc train ") for c in shown)
    assert any(c.startswith("nnc lesion ") for c in shown)


def test_the_error_transcript_is_what_nnc_prints(tmp_path):
    source, output = transcript()
    (tmp_path / "bad.arch").write_text(source)
    result = nnc("nnc check bad.arch", tmp_path)
    assert result.returncode == 2
    assert result.stderr == output


def serve(command: str, folder) -> tuple[int, str]:
    """Start a serving command, fetch its page, stop it with Ctrl-C: its exit status and
    what it wrote to stderr."""
    line = command.replace("nnc ", f"{sys.executable} -m nnc ", 1) + " --port 0"
    server = subprocess.Popen(line.split(), cwd=folder, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              preexec_fn=ctrl_c_reaches_it)
    try:
        address = re.search(r"serving at (\S+)", server.stdout.readline())
        assert address, command
        with urllib.request.urlopen(address.group(1), timeout=30) as page:
            assert page.status == 200 and b"<h1>network " in page.read()
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=30)
    return server.returncode, errors


@pytest.mark.slow
def test_every_readme_command_runs_as_written(clone):
    for command in commands():
        if "--serve" in command.split():
            code, errors = serve(command, clone)
        else:
            result = nnc(command, clone)
            code, errors = result.returncode, result.stderr
        assert code == 0, f"{command}\n{errors[-3000:]}"
        assert "Traceback" not in errors, command
