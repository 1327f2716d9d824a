"""`edgeprune bench --target ssh://...` against a real sshd on 127.0.0.1, and the target parser."""

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgeprune.errors import EdgepruneError
from edgeprune.remote import SshOptions, SshTarget, parse_target, remote_python_word

FAST = ["--warmup", "2", "--min-runs", "20", "--min-seconds", "0.05", "--block", "5"]


def test_parse_target():
    assert parse_target("local") is None
    assert parse_target("ssh://root@127.0.0.1:2222") == SshTarget("127.0.0.1", "root", 2222)
    assert parse_target("ssh://pi@raspberrypi.local") == SshTarget("raspberrypi.local", "pi", None)
    assert parse_target("ssh://board") == SshTarget("board", None, None)
    t = parse_target("ssh://pi@[::1]:22")
    assert (t.host, t.destination(), str(t)) == ("::1", "pi@::1", "ssh://pi@[::1]:22")


@pytest.mark.parametrize("text", [
    "pi@board", "http://pi@board", "ssh://pi@board:99999", "ssh://pi@board:0", "ssh://pi@board:x",
    "ssh://pi@board/tmp", "ssh://pi:secret@board", "ssh://-oProxyCommand=touch@board", "ssh://pi@-oProxyCommand",
    "ssh://p i@board", "ssh://pi@bo;ard", "ssh://pi@", "ssh://pi@board?x=1",
    "ssh://nobody@[::1;touch]:1", "ssh://pi@[::1", "ssh://pi@[board]", "ssh://pi@[::1]x:22",
])
def test_parse_target_rejects(text):
    with pytest.raises(EdgepruneError, match="bad --target"):
        parse_target(text)


def test_remote_python_word_is_one_quoted_word():
    assert remote_python_word("/usr/bin/python3") == "/usr/bin/python3"
    assert remote_python_word("~/venv/bin/python") == '"$HOME"/venv/bin/python'
    assert remote_python_word("/x/a b;rm -rf y/python") == "'/x/a b;rm -rf y/python'"
    with pytest.raises(EdgepruneError):
        remote_python_word("")


def test_ssh_options_are_checked(tmp_path):
    common = SshOptions(known_hosts=str(tmp_path / "kh"), extra=("Compression=no",)).common()
    assert common[:2] == ["-o", "BatchMode=yes"] and "StrictHostKeyChecking=accept-new" in common
    assert f"UserKnownHostsFile={tmp_path / 'kh'}" in common and "Compression=no" in common
    for bad in (SshOptions(key=str(tmp_path / "nokey")), SshOptions(strict_host_key_checking="maybe"),
                SshOptions(extra=("-oProxyCommand=x",)), SshOptions(connect_timeout=0)):
        with pytest.raises(EdgepruneError):
            bad.common()


@pytest.fixture
def remote_tmp(tmp_path):
    """The board's temporary base folder (empty before and, after every run, empty again)."""
    path = tmp_path / "board tmp"
    path.mkdir()
    return path


def one_error_line(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    line = proc.stderr.strip()
    assert "\n" not in line and line.startswith("edgeprune bench: error: "), proc.stderr
    return line


def test_remote_bench_returns_json_and_cleans_up(sshd, board_python, tiny_onnx, tiny_tflite, remote_tmp,
                                                 tmp_path, edgeprune_bench):
    out = tmp_path / "remote.json"
    link = tmp_path / "link.tflite"
    link.symlink_to(tiny_tflite)  # travels as the file it points to
    proc = edgeprune_bench(str(tiny_onnx), str(link), *sshd.ssh_args(), "--strict-host-key-checking", "yes",
                           "--remote-python", str(board_python), "--remote-tmp", str(remote_tmp), *FAST,
                           "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    bench = report["bench"]
    assert report["target"] == sshd.target and bench["remote"]["target"] == sshd.target
    assert bench["remote"]["python"] == str(board_python)
    folder = bench["remote"]["folder"]
    assert folder.startswith(str(remote_tmp) + "/edgeprune-bench.")
    assert list(remote_tmp.iterdir()) == []  # the remote folder is gone
    assert [m["path"] for m in bench["models"]] == [str(tiny_onnx), str(link)]
    assert [m["remote_path"] for m in bench["models"]] == ["m0.onnx", "m1.tflite"]
    assert bench["runtimes"]["tflite-runtime"] == "2.14.0" and bench["machine"]["numpy"].startswith("1.")
    for entry in bench["models"]:
        lat = entry["latency_ms"]
        assert lat["count"] >= 20 and lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert report["comparison"][0]["params"] == 2000 and report["comparison"][1]["params"] is None


def test_bad_ipv6_target_is_one_line(tiny_onnx, edgeprune_bench):
    proc = edgeprune_bench(str(tiny_onnx), "--target", "ssh://nobody@[::1;touch]:1", timeout=60)
    assert one_error_line(proc).startswith("edgeprune bench: error: bad --target 'ssh://nobody@[::1;touch]:1'")


def test_no_runtime_on_the_board(sshd, bare_python, tiny_onnx, remote_tmp, edgeprune_bench):
    proc = edgeprune_bench(str(tiny_onnx), *sshd.ssh_args(), "--remote-python", str(bare_python),
                           "--remote-tmp", str(remote_tmp), *FAST, timeout=60)
    line = one_error_line(proc)
    assert line == f"edgeprune bench: error: on {sshd.target}: numpy is not installed for {bare_python} " \
                   "(pip install numpy)"
    assert list(remote_tmp.iterdir()) == []


def test_missing_remote_python(sshd, tiny_onnx, remote_tmp, edgeprune_bench):
    proc = edgeprune_bench(str(tiny_onnx), *sshd.ssh_args(), "--remote-python", "/nonexistent/python",
                           "--remote-tmp", str(remote_tmp), timeout=60)
    assert one_error_line(proc).endswith(f"remote python not found on {sshd.target}: /nonexistent/python")
    assert list(remote_tmp.iterdir()) == []


def test_model_that_does_not_load_on_the_board(sshd, board_python, garbage_onnx, remote_tmp, edgeprune_bench):
    proc = edgeprune_bench(str(garbage_onnx), *sshd.ssh_args(), "--remote-python", str(board_python),
                           "--remote-tmp", str(remote_tmp), *FAST, timeout=60)
    line = one_error_line(proc)
    assert line.startswith(f"edgeprune bench: error: on {sshd.target}: cannot load {garbage_onnx} with onnxruntime")
    assert list(remote_tmp.iterdir()) == []


def test_shell_metacharacters_are_quoted_not_run(sshd, board_python, tiny_onnx, tmp_path, edgeprune_bench):
    work = tmp_path / "w $(touch INJECTED1) `touch INJECTED2`"
    work.mkdir()
    model = work / "a b;cd;touch INJECTED3;'$(cd;touch INJECTED4)'.onnx"
    shutil.copyfile(tiny_onnx, model)
    board_tmp = tmp_path / "t;cd;touch INJECTED5;x"  # `cd` alone: an injected touch lands in $HOME
    board_tmp.mkdir()
    remote = edgeprune_bench(model.name, *sshd.ssh_args(), "--remote-python", str(board_python), "--remote-tmp",
                             str(board_tmp), *FAST, "--json", "out.json", cwd=work, timeout=60)
    local = edgeprune_bench(model.name, *FAST, cwd=work, timeout=60)  # no shell is involved locally at all
    places = [Path.home(), Path.cwd()]
    injected = list(tmp_path.rglob("INJECTED*")) + [p for d in places for p in d.glob("INJECTED*")]
    for path in injected:
        path.unlink()
    assert injected == []
    assert remote.returncode == 0, remote.stderr
    report = json.loads((work / "out.json").read_text())
    assert report["bench"]["models"][0]["path"] == model.name
    assert list(board_tmp.iterdir()) == []
    assert local.returncode == 0, local.stderr
    assert model.name in local.stdout


SLOW = ["--warmup", "0", "--min-runs", "1", "--min-seconds", "600", "--max-seconds", "600"]


def _remote_run(procs, proc, remote_tmp) -> int:
    """The pid of device_bench working in the board's temporary folder, once it runs."""
    found = procs.wait_for(lambda: [pid for pid, argv in procs.processes(remote_tmp).items()
                                    if "device_bench" in argv], proc, "device_bench on the board")
    assert len(found) == 1
    return found[0]


def test_remote_timeout_stops_the_run_on_the_board(sshd, board_python, tiny_onnx, remote_tmp, procs):
    proc = procs.start(str(tiny_onnx), *sshd.ssh_args(), "--remote-python", str(board_python),
                       "--remote-tmp", str(remote_tmp), *SLOW, "--remote-timeout", "15")
    try:
        remote = _remote_run(procs, proc, remote_tmp)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 2, err
    assert err == f"edgeprune bench: error: running device_bench on {sshd.target} timed out after 15 s\n"
    procs.wait_gone([remote], remote_tmp)  # device_bench stopped on the board (SIGKILLed ones may take a moment)
    assert list(remote_tmp.iterdir()) == []  # and its folder is gone


@pytest.mark.parametrize("signum,code,line", [(signal.SIGTERM, 143, "edgeprune bench: terminated (SIGTERM)"),
                                               (signal.SIGINT, 130, "edgeprune bench: interrupted")])
def test_signal_stops_ssh_and_the_run_on_the_board(signum, code, line, sshd, board_python, tiny_onnx, remote_tmp,
                                                   procs):
    """SIGTERM, or Ctrl-C's SIGINT sent to edgeprune bench alone (so its own handling must stop the rest). Every
    wait is bounded and polls: no fixed sleep that a loaded scheduler can outrun."""
    local_tmp = remote_tmp.parent / "local tmp"
    local_tmp.mkdir()
    proc = procs.start(str(tiny_onnx), *sshd.ssh_args(), "--remote-python", str(board_python),
                       "--remote-tmp", str(remote_tmp), *SLOW, tmpdir=local_tmp)
    try:
        remote = _remote_run(procs, proc, remote_tmp)
        local = procs.processes(parent=proc.pid)
        assert [argv[0] for argv in local.values()] == ["ssh"]
        assert procs.catches(proc.pid, signum), f"edgeprune bench does not handle {signum.name}"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == code and err == line + "\n"
    assert not any(procs.alive(pid) for pid in local), "the ssh client outlived edgeprune bench"  # it reaps ssh
    procs.wait_gone([remote], remote_tmp)  # the board's run: stopped by the clean-up, perhaps by a SIGKILL
    assert list(remote_tmp.iterdir()) == []
    assert list(local_tmp.iterdir()) == []  # the staged archive (edgeprune-stage.*) too


def _sleeper(folder) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], cwd=folder)


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_cleanup_command_stops_the_run_in_its_folder_only(shell, tmp_path):
    """The board-side clean-up alone (no lifeline): it stops the pid in the folder's pid file when that process
    works in the folder, leaves a process elsewhere alone (a reused pid), and removes the folder."""
    from edgeprune.remote import PID_FILE, RemoteFolder

    remote = RemoteFolder(SshTarget("board"), SshOptions())
    run_folder, reused_folder = tmp_path / "edgeprune-bench.a b", tmp_path / "edgeprune-bench.reused"
    run_folder.mkdir()
    reused_folder.mkdir()
    run, other = _sleeper(run_folder), _sleeper(tmp_path)
    try:
        (run_folder / PID_FILE).write_text(f"{run.pid}\n")
        (reused_folder / PID_FILE).write_text(f"{other.pid}\n")
        for folder in (reused_folder, run_folder):
            remote.path = str(folder)
            subprocess.run([shell, "-c", remote.cleanup_command()], check=True, timeout=60)
            assert not folder.exists()
        assert run.wait(timeout=10) in (-15, -9)  # reaped here (on a board, by init)
        assert other.poll() is None
    finally:
        for p in (run, other):
            p.kill()
            p.wait()
