#!/usr/bin/python3
"""deploy/ansible/sweep.yml run by the real ansible-playbook against hosts in
one run: `local` and `local2` (connection local) and `sshhost`, reached over
real SSH through an sshd this test starts on 127.0.0.1 with throwaway keys.
All are this machine, so each host sweeps its own tree: `local` a clean one,
`sshhost` one holding a synthesised positive, `local2` one its sweep cannot
finish (exit 3). Then a run where no binary may run: `local` gets a release
tarball that does not match SHA256SUMS, `sshhost` a binary whose SHA-256 is
not the one given (and `local2` a sweep that exits 2).
Usage: fleet_ansible_test.py IOCSWEEP SOURCE_DIR"""
import glob
import hashlib
import io
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sweep_samples import synth_pe  # noqa: E402  (bytes the built-in pack matches)

SSHD = "/usr/sbin/sshd"


def skip(reason: str) -> int:
    print(f"SKIP: {reason}")
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sshd(work: str) -> tuple:
    """An sshd on 127.0.0.1 that lets in root with the client key only;
    returns (process, port, client key path)."""
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(work, name)],
                       check=True)
    shutil.copy(os.path.join(work, "client_key.pub"), os.path.join(work, "authorized_keys"))
    sftp = next((p for p in ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server")
                 if os.path.exists(p)), None)
    for _ in range(5):
        port = free_port()
        conf = os.path.join(work, "sshd_config")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(f"""ListenAddress 127.0.0.1
Port {port}
HostKey {work}/host_key
PidFile {work}/sshd.pid
AuthorizedKeysFile {work}/authorized_keys
AllowUsers root
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
""" + (f"Subsystem sftp {sftp}\n" if sftp else ""))
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", conf], stderr=open(os.path.join(work, "sshd.log"), "wb"))
        for _ in range(200):
            if proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return proc, port, os.path.join(work, "client_key")
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
    with open(os.path.join(work, "sshd.log"), encoding="utf-8", errors="replace") as f:
        raise RuntimeError("sshd did not start: " + f.read())


def make_release(binary: str, dist: str) -> tuple:
    """A release as scripts/release.sh lays it out: a tarball with one top
    directory holding the binary, and SHA256SUMS. Returns (tarball, sums)."""
    name = f"iocsweep-0.0.0-linux-{platform.machine()}"
    os.makedirs(dist)
    tarball = os.path.join(dist, name + ".tar.gz")
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(binary, arcname=f"{name}/iocsweep")
        readme = b"test release\n"
        info = tarfile.TarInfo(f"{name}/README.md")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
    sums = os.path.join(dist, "SHA256SUMS")
    with open(tarball, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    with open(sums, "w", encoding="utf-8") as f:
        f.write(f"{'0' * 64}  other.deb\n{digest}  {name}.tar.gz\n")
    return tarball, sums


def host_vars(path: str, settings: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(settings, f)  # JSON is YAML


def run_playbook(source_dir: str, work: str, inventory: str, report_dir: str, extra: dict) -> tuple:
    env = dict(os.environ)
    for k in [k for k in env if k.startswith("ANSIBLE_")]:
        del env[k]
    home = os.path.join(work, "home")
    os.makedirs(home, exist_ok=True)
    cfg = os.path.join(work, "ansible.cfg")
    open(cfg, "w", encoding="utf-8").close()
    # Everything Ansible writes goes below this run's directory.
    # Ansible refuses to start in a locale that is not UTF-8 (LC_ALL=POSIX, say).
    env.update(LC_ALL="C.UTF-8", HOME=home, ANSIBLE_CONFIG=cfg, ANSIBLE_HOME=os.path.join(work, "ansible-home"),
               ANSIBLE_LOCAL_TEMP=os.path.join(work, "ansible-local"),
               ANSIBLE_REMOTE_TEMP=os.path.join(work, "ansible-remote"),
               ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(work, "cp"), ANSIBLE_HOST_KEY_CHECKING="False",
               ANSIBLE_RETRY_FILES_ENABLED="False", ANSIBLE_PIPELINING="True", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_GALAXY_CACHE_DIR=os.path.join(work, "galaxy"))
    args = ["ansible-playbook", "-v", "-i", inventory, os.path.join(source_dir, "deploy/ansible/sweep.yml"),
            "-e", json.dumps(dict(extra, iocsweep_report_dir=report_dir, iocsweep_poll=1))]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False, timeout=600,
                          stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout + proc.stderr


def check(cond: bool, what: str, output: str = "") -> None:
    if not cond:
        raise AssertionError(what + ("\n--- ansible-playbook output ---\n" + output if output else ""))


def validator(source_dir: str):
    with open(os.path.join(source_dir, "docs/report.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    return lambda doc: jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)


def leftovers() -> set:
    """Work directories of the role (tmpfs candidates and the mktemp fallback)."""
    return {p for d in ("/dev/shm", "/run", os.environ.get("TMPDIR", "/tmp")) for p in glob.glob(d + "/iocsweep.*")}


def main() -> int:
    binary, source_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if os.geteuid() != 0:
        return skip("not root: the sshd this test starts lets in root only")
    for tool in ("ansible-playbook", "ssh", "ssh-keygen"):
        if not shutil.which(tool):
            return skip(f"{tool} not installed (Debian: ansible-core, openssh-client)")
    if not os.access(SSHD, os.X_OK):
        return skip(f"{SSHD} not installed (Debian: openssh-server)")
    validate = validator(source_dir)
    # sshd wants its privilege separation directory; made here if missing, removed after.
    made_privsep = not os.path.isdir("/run/sshd")
    if made_privsep:
        os.makedirs("/run/sshd", mode=0o755)
    work = tempfile.mkdtemp(prefix="fleet-ansible.")
    os.chmod(work, 0o700)
    sshd = None
    before = leftovers()
    try:
        sshd, port, client_key = start_sshd(work)
        tarball, sums = make_release(binary, os.path.join(work, "dist"))
        # Each host's own tree, cache directory and settings. The local
        # host's cache lies inside its swept tree: the role must exclude it.
        # local2 has no cache and a file above its --max-filesize (exit 3).
        hosts = ("local", "sshhost", "local2")
        trees = {h: os.path.join(work, "hosts", h, "tree") for h in hosts}
        for tree in trees.values():
            os.makedirs(tree)
            with open(os.path.join(tree, "notes.txt"), "w", encoding="utf-8") as f:
                f.write("nothing to see\n")
        with open(os.path.join(trees["local2"], "big.bin"), "wb") as f:
            f.write(b"z" * 5000)
        key = bytes.fromhex("4E381FA77F08CCAA0D56EDEFF9ED08EF")
        positive = os.path.join(trees["sshhost"], "evtdiag.exe")
        with open(positive, "wb") as f:
            f.write(synth_pe(b"\0" + key + b"\0PI (found, patched)\0"))
        caches = {"local": os.path.join(trees["local"], ".iocsweep-cache"),
                  "sshhost": os.path.join(work, "hosts", "sshhost", "cache"), "local2": ""}
        settings = {h: {"iocsweep_paths": [trees[h]], "iocsweep_cache_dir": caches[h], "iocsweep_timeout": 600}
                    for h in hosts}
        settings["local2"]["iocsweep_extra_args"] = ["--max-filesize", "1K"]
        inventory = os.path.join(work, "inventory")
        os.makedirs(os.path.join(inventory, "host_vars"))
        with open(os.path.join(inventory, "hosts.ini"), "w", encoding="utf-8") as f:
            f.write(f"""local ansible_connection=local
sshhost ansible_host=127.0.0.1 ansible_port={port} ansible_user=root ansible_ssh_private_key_file={client_key} ansible_ssh_common_args='-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'
local2 ansible_connection=local
""")
        for h in hosts:
            host_vars(os.path.join(inventory, "host_vars", h + ".yml"), settings[h])

        # 1. Every host swept from the release tarball.
        reports = os.path.join(work, "reports")
        rc, out = run_playbook(source_dir, work, os.path.join(inventory, "hosts.ini"), reports,
                               {"iocsweep_release_tarball": tarball, "iocsweep_sha256sums": sums})
        check(rc == 0, f"ansible-playbook exited {rc}", out)
        want = {"local": ("clean", 0), "sshhost": ("findings", 1), "local2": ("incomplete", 3)}
        for h, (status, code) in want.items():
            check(f"iocsweep {h}: {status} (exit {code}," in out, f"no summary line saying {h} is {status}", out)
            with open(os.path.join(reports, h + ".json"), encoding="utf-8") as f:
                doc = json.load(f)
            validate(doc)
            check(doc["scan"]["roots"] == [trees[h]], f"{h} swept {doc['scan']['roots']}, not its own tree")
            check(doc["scan"]["complete"], f"{h}: scan not complete")
            if caches[h]:
                check(os.path.isfile(os.path.join(caches[h], "cache.db")), f"{h}: no scan cache kept in {caches[h]}")
        check(not glob.glob(os.path.join(trees["local2"], "*.db")), "local2 has a cache it was not given")
        with open(os.path.join(reports, "sshhost.json"), encoding="utf-8") as f:
            found = {x["path"] for x in json.load(f)["findings"]}
        check(found == {positive}, f"sshhost findings are {found}, not the positive")
        with open(os.path.join(reports, "summary.json"), encoding="utf-8") as f:
            summary = {r["host"]: r for r in json.load(f)}
        check({h: (r["status"], r["exit_code"]) for h, r in summary.items()} == want, f"summary.json says {summary}")
        check([summary[h]["findings"] for h in hosts] == [0, 1, 0], f"summary.json finding counts: {summary}")
        for flag in ('"--nice", "19"', '"--io-idle"', '"--max-rate", "20"', '"--threads", "1"'):
            check(flag in out, f"the sweep's command line lacks {flag}", out)
        check(leftovers() == before, f"work directories left on the host: {leftovers() - before}")

        # 2. `local` is given a release whose tarball no longer matches
        # SHA256SUMS, `sshhost` a binary with another SHA-256: neither may
        # run. `local2` runs the right binary with an option iocsweep
        # refuses (exit 2). Per host, in host_vars (extra vars would
        # override them).
        with open(tarball, "ab") as f:
            f.write(b"\0")
        for cache in filter(None, caches.values()):
            shutil.rmtree(cache)
        reports = os.path.join(work, "reports-bad")
        with open(binary, "rb") as f:
            good_sha256 = hashlib.sha256(f.read()).hexdigest()
        settings["local"].update(iocsweep_release_tarball=tarball, iocsweep_sha256sums=sums)
        settings["sshhost"].update(iocsweep_binary=binary, iocsweep_sha256="ab" * 32)
        settings["local2"].update(iocsweep_binary=binary, iocsweep_sha256=good_sha256.upper(),
                                  iocsweep_extra_args=["--max-filesize", "lots"])
        for h in hosts:
            host_vars(os.path.join(inventory, "host_vars", h + ".yml"), settings[h])
        rc, out = run_playbook(source_dir, work, os.path.join(inventory, "hosts.ini"), reports, {})
        check(rc != 0, "ansible-playbook succeeded although every sweep failed", out)
        with open(os.path.join(reports, "summary.json"), encoding="utf-8") as f:
            summary = {r["host"]: r for r in json.load(f)}
        check({h: r["status"] for h, r in summary.items()} == {h: "failed" for h in hosts},
              f"summary.json says {summary}", out)
        check("does not match its line in" in summary["local"]["message"], f"local: {summary['local']}")
        check("expected " + "ab" * 32 + ": not run" in summary["sshhost"]["message"], f"sshhost: {summary['sshhost']}")
        check("max-filesize" in summary["local2"]["message"], f"local2: {summary['local2']}")
        for h in hosts:
            check(f"iocsweep {h}: failed:" in out, f"no summary line saying {h} failed", out)
            check(not os.path.exists(os.path.join(reports, h + ".json")), f"{h}: a report was fetched")
        for h in ("local", "sshhost"):
            check(not os.path.exists(caches[h]), f"{h}: the sweep ran (its cache directory exists)")
            check(f'"--", "{trees[h]}"' not in out, f"{h}: a sweep was started", out)
        check(f'"--", "{trees["local2"]}"' in out, "local2: no sweep was started", out)
        check(leftovers() == before, f"work directories left on the host: {leftovers() - before}")
        print("fleet sweep through ansible-playbook: clean, findings, incomplete; bad checksums run nothing, exit 2 fails")
        return 0
    finally:
        if sshd is not None:
            sshd.terminate()
            sshd.wait()
        shutil.rmtree(work, ignore_errors=True)
        if made_privsep:
            shutil.rmtree("/run/sshd", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
