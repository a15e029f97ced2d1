"""Synthesised positives for the tests that run the built binary: a small
PE, tars, a FAT image and a live process whose executable was deleted.
Never real malware: bytes that satisfy a rule and nothing else."""
import io
import os
import shutil
import subprocess
import tarfile
import time


def synth_pe(payload: bytes) -> bytes:
    head = bytearray(0x80)
    head[0:2] = b"MZ"
    head[0x3C] = 0x40
    head[0x40:0x44] = b"PE\0\0"
    head[0x44:0x46] = b"\x4c\x01"
    return bytes(head) + payload + bytes(64)


def tar_bytes(members, fmt=tarfile.GNU_FORMAT) -> bytes:
    """An uncompressed tar of (name, bytes) pairs; names may be bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tar:
        for name, data in members:
            if isinstance(name, bytes):
                name = name.decode("utf-8", "surrogateescape")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def fat_image(path: str, positive: bytes, work: str) -> bool:
    """A bare FAT image holding the positive twice, one copy deleted (mtools,
    no mounting); False when the tools are missing."""
    if not (shutil.which("mkfs.fat") and shutil.which("mcopy") and shutil.which("mdel")):
        return False
    src = os.path.join(work, "EVTDIAG.EXE")
    with open(src, "wb") as f:
        f.write(positive)
    with open(path, "wb") as f:
        f.truncate(8 << 20)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    for cmd in (["mkfs.fat", path], ["mcopy", "-i", path, src, "::EVTDIAG.EXE"],
                ["mcopy", "-i", path, src, "::GONE.EXE"], ["mdel", "-i", path, "::GONE.EXE"]):
        subprocess.run(cmd, check=True, capture_output=True, env=env)
    return True


def start_wiped_child(work: str):
    """A sleep (600 s) running from a copy in `work` that was deleted once it
    started, or None without /bin/sleep. The caller kills and reaps it."""
    if not os.path.exists("/bin/sleep"):
        return None
    wiped = os.path.join(work, "wiped")
    shutil.copy("/bin/sleep", wiped)
    os.chmod(wiped, 0o755)
    child = subprocess.Popen([wiped, "600"])
    for _ in range(500):
        try:
            if os.readlink(f"/proc/{child.pid}/exe") == wiped:
                break
        except OSError:
            pass
        time.sleep(0.01)
    os.unlink(wiped)
    return child
