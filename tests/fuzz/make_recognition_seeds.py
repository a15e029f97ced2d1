#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_archive_recognition: crafted inputs whose
members a reader could miss (no real samples). Run from the repository root:
  python3 tests/fuzz/make_recognition_seeds.py"""
import bz2, gzip, io, lzma, os, tarfile, zipfile

out = "tests/fuzz/corpus/fuzz_archive_recognition"
os.makedirs(out, exist_ok=True)


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def zip_of(members, flag_utf8=False):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if flag_utf8:
                info.flag_bits |= 0x800
            z.writestr(info, data)
    return buf.getvalue()


def tar_of(members, fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def v7(tar):
    # Clears the ustar magic and version of every header, fixing checksums.
    b = bytearray(tar)
    off = 0
    while off + 512 <= len(b) and any(b[off:off + 512]):
        b[off + 257:off + 265] = bytes(8)
        b[off + 148:off + 156] = b" " * 8
        b[off + 148:off + 155] = b"%06o\0" % sum(b[off:off + 512])
        size = int(bytes(b[off + 124:off + 136]).strip(b"\0 ") or b"0", 8)
        off += 512 + (size + 511) // 512 * 512
    return bytes(b)


payload = b"MZ synthetic payload for the recognition fuzzer\n"
zipped = zip_of([("bin/tool.exe", payload), ("readme.txt", b"text")])
write("prefixed.zip", b"J" + zipped)
write("sfx_stub.exe", b"MZ" + bytes(126) + b"stub" + zipped)
write("v7.tar", v7(tar_of([("bin/tool.exe", payload), ("b.txt", b"b")])))
nul_led = bytes(1024) + payload
write("nul_led.gz", gzip.compress(nul_led, mtime=0))
write("nul_led.xz", lzma.compress(nul_led))
write("nul_led.bz2", bz2.compress(nul_led))
write("nul_led.lzma", lzma.compress(nul_led, format=lzma.FORMAT_ALONE))
write("ratio.zip", zip_of([("zeros.bin", bytes(1 << 20)), ("after.exe", payload)]))
bad = zip_of([("first.txt", b"a"), ("bad\u00e9.exe", payload), ("last.txt", b"z")], flag_utf8=True)
write("bad_utf8_name.zip", bad.replace("bad\u00e9".encode(), b"bad\xff\xfe"))
ar = b"!<arch>\n" + b"tool.exe/".ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"644".ljust(8)
ar += str(len(payload)).encode().ljust(10) + b"`\n" + payload
write("plain.ar", ar)
write("plain.txt", b"just a text file, no archive\n")
