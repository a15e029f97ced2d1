#!/usr/bin/python3
"""Generate a large synthetic YARA rule set shaped like Neo23x0 signature-base.

Writes about --rules rules (default 6000) into --files .yar files (default
240) in one folder, like signature-base's yara/ folder. Every string is
synthesised from a fixed seed; no third-party rule text is copied. The mix
follows what signature-base contains:

  * text strings with ascii / wide / nocase / fullword modifiers (paths,
    URLs, PDB paths, mutexes, command lines, user agents, API names),
  * hex strings with ?? wildcards, [n-m] jumps and ( a | b ) alternatives,
  * a few regular expressions, anchored on literal text like most real ones,
  * `import "pe"` conditions (imphash, exports, imports, signatures, ...),
  * some rules that use the Loki / THOR external variables filename,
    filepath, extension, filetype, owner and md5 (iocsweep defines them for
    every compile; plain `yara` needs -d NAME= for each).

Rule names are unique across all files, so `yara` can load every file into
its default namespace.

usage: gen_rules.py OUT_DIR [--rules N] [--files N] [--seed S]
"""

import argparse
import os
import random
import sys

EXTERNALS = ("filename", "filepath", "extension", "filetype", "owner", "md5")

CONSONANTS = "bcdfghjklmnprstvwxz"
VOWELS = "aeiou"
PREFIXES = ("apt", "crime", "gen", "hktl", "mal", "susp", "webshell", "expl", "pua", "thor")
TAG_POOL = ("APT", "Crime", "Webshell", "HackTool", "Loader", "Backdoor", "RAT", "Ransomware", "Miner",
            "Linux", "Windows", "T1059", "T1105", "T1003", "T1055")
TLDS = ("com", "net", "org", "info", "biz", "top", "xyz", "ru", "cn", "io")
DLLS = ("kernel32.dll", "advapi32.dll", "ws2_32.dll", "wininet.dll", "user32.dll", "ntdll.dll",
        "crypt32.dll", "shell32.dll", "ole32.dll", "winhttp.dll")
API_PREFIX = ("Create", "Open", "Write", "Read", "Query", "Set", "Get", "Virtual", "Nt", "Reg", "Internet",
              "Http", "Crypt", "Shell", "Load")
API_SUFFIX = ("ProcessW", "FileA", "ThreadEx", "KeyExW", "ValueExA", "AllocEx", "ProtectEx", "ConnectW",
              "RequestA", "DecryptData", "ExecuteExW", "LibraryW")
EXTS = (".exe", ".dll", ".jsp", ".aspx", ".php", ".ps1", ".vbs", ".bat", ".sys", ".tmp", ".dat")
FILETYPES = ("EXE", "ELF", "ZIP", "RAR", "GZIP", "PDF", "OLE")
OWNERS = ("root", "SYSTEM", "www-data", "apache", "nobody", "IUSR")
# Common x86 prologues and idioms; signature-base hex strings often start
# with such bytes, which makes atoms that match often in real binaries.
X86_IDIOMS = ("55 8B EC", "8B 45 ??", "E8 ?? ?? ?? ??", "83 C4 ??", "6A ?? 68", "FF 15 ?? ?? ?? ??",
              "48 89 5C 24 ??", "48 8B ?? 24", "33 C0", "C3")


class Generator:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.used_names = set()

    # ---- words and literal strings --------------------------------------

    def word(self, lo=2, hi=4):
        r = self.r
        syllables = r.randint(lo, hi)
        return "".join(r.choice(CONSONANTS) + r.choice(VOWELS) + (r.choice(CONSONANTS) if r.random() < 0.3 else "")
                       for _ in range(syllables))

    def cap(self, lo=2, hi=4):
        w = self.word(lo, hi)
        return w[0].upper() + w[1:]

    def hexstr(self, nbytes):
        return "".join("%02x" % self.r.randrange(256) for _ in range(nbytes))

    def b64ish(self, n):
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def text_literal(self):
        """A synthetic indicator string in one of the shapes rules use."""
        r = self.r
        kind = r.randrange(16)
        if kind == 0:
            return "C:\\\\Users\\\\%s\\\\AppData\\\\Roaming\\\\%s\\\\%s%s" % (
                self.cap(), self.cap(), self.word(), r.choice(EXTS))
        if kind == 1:
            return "http://%s.%s/%s/%s.php?id=" % (self.word(), r.choice(TLDS), self.word(1, 2), self.word())
        if kind == 2:
            return "%s:\\\\%s\\\\%s\\\\Release\\\\%s.pdb" % (r.choice("CDEF"), self.cap(), self.cap(), self.cap())
        if kind == 3:
            return "Global\\\\%s%s" % (self.cap(), self.hexstr(4))
        if kind == 4:
            return "cmd.exe /c %s %s > %%TEMP%%\\\\%s.txt" % (self.word(), self.word(), self.word())
        if kind == 5:
            return "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1; %s)" % self.cap(3, 5)
        if kind == 6:
            return "%s%s" % (r.choice(API_PREFIX), self.cap(2, 3) + r.choice(API_SUFFIX))
        if kind == 7:
            return "powershell -nop -w hidden -enc %s" % self.b64ish(r.randint(16, 32))
        if kind == 8:
            return "SOFTWARE\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run\\\\%s" % self.cap()
        if kind == 9:
            return '<%%@ Page Language=\\"C#\\" %s=\\"%s\\" %%>' % (self.cap(), self.word())
        if kind == 10:
            return "eval($_POST['%s'])" % self.word()
        if kind == 11:
            return "/tmp/.%s/%s" % (self.word(), self.word())
        if kind == 12:
            return "[%s] %s %s: %%s" % (self.cap(1, 2).upper(), self.cap(), self.word())
        if kind == 13:
            return self.b64ish(r.randint(20, 40))
        if kind == 14:
            return "%s_%s_%s" % (self.word(), self.word(), self.hexstr(3))
        return "%s %s %s %s" % (self.cap(), self.word(), self.word(), self.word())

    def hex_string(self):
        r = self.r
        parts = []
        if r.random() < 0.35:
            parts.append(r.choice(X86_IDIOMS))
        for _ in range(r.randint(2, 5)):
            chunk = " ".join("%02X" % r.randrange(256) for _ in range(r.randint(3, 8)))
            parts.append(chunk)
            roll = r.random()
            if roll < 0.35:
                parts.append(" ".join("??" for _ in range(r.randint(1, 4))))
            elif roll < 0.55:
                lo = r.randint(0, 8)
                parts.append("[%d-%d]" % (lo, lo + r.randint(1, 16)))
            elif roll < 0.65:
                parts.append("( %02X %02X | %02X %02X )" % tuple(r.randrange(256) for _ in range(4)))
        # A hex string may not end in a wildcard or jump.
        while parts and (parts[-1].startswith("[") or parts[-1].startswith("??")):
            parts.pop()
        parts.append(" ".join("%02X" % r.randrange(256) for _ in range(r.randint(2, 4))))
        return "{ " + " ".join(parts) + " }"

    def regex(self):
        r = self.r
        kind = r.randrange(4)
        if kind == 0:
            return r"/https?:\/\/[a-z0-9\.\-]{4,40}\/%s\/[a-z]{2,8}\.php/" % self.word()
        if kind == 1:
            return r"/%s_[a-z0-9]{4,12}\.(dll|exe|sys)/ nocase" % self.word()
        if kind == 2:
            return r"/%s[0-9]{2,6}%s/" % (self.cap(), self.word())
        return r"/[A-Za-z]{2,10}%s\(\$_(GET|POST|REQUEST)\[/" % self.word()

    def modifiers(self):
        r = self.r
        roll = r.random()
        if roll < 0.40:
            mods = ["ascii"]
        elif roll < 0.70:
            mods = ["ascii", "wide"]
        elif roll < 0.80:
            mods = ["wide"]
        else:
            mods = []
        if r.random() < 0.18:
            mods.append("nocase")
        if r.random() < 0.25:
            mods.append("fullword")
        return (" " + " ".join(mods)) if mods else ""

    # ---- rules ------------------------------------------------------------

    def rule_name(self, prefix):
        while True:
            name = "%s_%s_%s_%s" % (prefix.upper(), self.cap(), self.cap(), self.r.choice(("Jan", "Feb", "Mar",
                   "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")) + str(self.r.randint(15, 24)))
            if self.r.random() < 0.4:
                name += "_%d" % self.r.randint(1, 9)
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    def strings_block(self, kind):
        """Returns (lines, has_x) for a rule of `kind`."""
        r = self.r
        lines = []
        n_x = r.randint(0, 3) if kind != "hex" else 0
        n_s = r.randint(2, 12)
        for i in range(1, n_x + 1):
            lines.append('$x%d = "%s"%s' % (i, self.text_literal(), self.modifiers()))
        for i in range(1, n_s + 1):
            roll = r.random()
            if kind == "hex" and roll < 0.7 or kind != "hex" and roll < 0.15:
                lines.append("$s%d = %s" % (i, self.hex_string()))
            elif roll < 0.17 and kind != "webshell":
                lines.append("$s%d = %s" % (i, self.regex()))
            else:
                mods = self.modifiers()
                if r.random() < 0.0005:
                    mods = " xor"
                lines.append('$s%d = "%s"%s' % (i, self.text_literal(), mods))
        if kind == "webshell" and r.random() < 0.3:
            n_s += 1
            lines.append("$s%d = %s" % (n_s, self.regex()))
        return lines, n_x > 0, n_s

    def pe_clause(self):
        r = self.r
        kind = r.randrange(7)
        if kind == 0:
            return 'pe.imphash() == "%s"' % self.hexstr(16)
        if kind == 1:
            return 'pe.exports("%s")' % (self.cap() + r.choice(("Entry", "Start", "Run", "Main")))
        if kind == 2:
            return 'pe.imports("%s", "%s")' % (r.choice(DLLS), r.choice(API_PREFIX) + r.choice(API_SUFFIX))
        if kind == 3:
            return "pe.number_of_signatures == 0"
        if kind == 4:
            return ('for any i in (0 .. pe.number_of_signatures) : ( pe.signatures[i].issuer contains "%s" )'
                    % self.cap())
        if kind == 5:
            return "pe.timestamp == %d" % r.randint(1200000000, 1700000000)
        return 'pe.sections[0].name == ".%s"' % self.word(1, 2)

    def external_clause(self):
        r = self.r
        which = r.choice(EXTERNALS)
        if which == "filename":
            return 'filename == "%s%s"' % (self.word(), r.choice(EXTS))
        if which == "filepath":
            return 'filepath contains "\\\\%s\\\\"' % self.cap()
        if which == "extension":
            return 'extension == "%s"' % r.choice(EXTS)
        if which == "filetype":
            return 'filetype == "%s"' % r.choice(FILETYPES)
        if which == "owner":
            return 'not owner == "%s"' % r.choice(OWNERS)
        return 'md5 == "%s"' % self.hexstr(16)

    def name_only_condition(self):
        """A Loki-style filename IOC turned rule: names and paths only."""
        r = self.r
        kind = r.randrange(3)
        if kind == 0:
            return 'filename == "%s%s"' % (self.word(), r.choice(EXTS))
        if kind == 1:
            return 'extension == "%s" and filepath contains "\\\\%s\\\\"' % (r.choice(EXTS), self.cap())
        return 'md5 == "%s" or filename == "%s%s"' % (self.hexstr(16), self.word(), r.choice(EXTS))

    def rule(self, prefix, with_pe):
        r = self.r
        kind = r.choices(("pe", "text", "hex", "webshell", "elf"), weights=(45, 20, 15, 15, 5))[0]
        if kind == "pe" and not with_pe:
            kind = "text"
        lines, has_x, n_s = self.strings_block(kind)
        name = self.rule_name(prefix)
        tags = r.sample(TAG_POOL, r.randint(0, 2))
        head = "rule %s%s {" % (name, (" : " + " ".join(tags)) if tags else "")
        meta = [
            'description = "Detects synthetic %s %s sample (iocsweep bench generator)"' % (self.cap(), self.word()),
            'author = "iocsweep bench"',
            'reference = "https://example.invalid/%s/%s"' % (self.word(), self.hexstr(4)),
            'date = "20%02d-%02d-%02d"' % (r.randint(14, 24), r.randint(1, 12), r.randint(1, 28)),
            'hash1 = "%s"' % self.hexstr(32),
        ]
        if r.random() < 0.6:
            meta.append("score = %d" % r.choice((40, 50, 60, 65, 70, 75, 80, 85, 90, 100)))
        meta.append('id = "%s-%s-%s-%s-%s"' % (self.hexstr(4), self.hexstr(2), self.hexstr(2), self.hexstr(2),
                                                self.hexstr(6)))

        size = "%dKB" % r.choice((20, 50, 100, 200, 300, 500, 700, 1000, 2000, 3000))
        if kind == "pe":
            header = "uint16(0) == 0x5a4d and filesize < %s" % size
        elif kind == "elf":
            header = "uint32be(0) == 0x7f454c46 and filesize < %s" % size
        elif kind == "webshell":
            header = "filesize < %s" % r.choice(("20KB", "50KB", "100KB", "300KB"))
        elif r.random() < 0.5:
            header = "uint16(0) == 0x5a4d and filesize < %s" % size
        else:
            header = "filesize < %s" % size
        need = max(1, min(n_s, r.choice((1, 2, 2, 3, 4, 5, 6, 8))))
        if has_x:
            body = "( 1 of ($x*) or %d of ($s*) )" % need
        elif r.random() < 0.15:
            body = "all of them"
        else:
            body = "%d of them" % need
        cond = [header, body]
        if kind == "pe" and r.random() < 0.35:
            cond.append(self.pe_clause())
        if r.random() < 0.05:
            cond.append(self.external_clause())
        cond_text = " and ".join(cond)
        if r.random() < 0.02:
            # A Loki-style name-only rule: no strings at all.
            lines = []
            cond_text = self.name_only_condition()

        out = [head, "   meta:"]
        out += ["      " + m for m in meta]
        if lines:
            out.append("   strings:")
            out += ["      " + s for s in lines]
        out += ["   condition:", "      " + cond_text, "}", ""]
        return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--rules", type=int, default=6000)
    ap.add_argument("--files", type=int, default=240)
    ap.add_argument("--seed", type=int, default=20240404)
    args = ap.parse_args()
    if args.rules < 1 or args.files < 1:
        sys.exit("gen_rules.py: --rules and --files must be >= 1")

    os.makedirs(args.out_dir, exist_ok=True)
    for old in os.listdir(args.out_dir):
        if old.endswith(".yar"):
            os.unlink(os.path.join(args.out_dir, old))

    g = Generator(args.seed)
    per_file = [args.rules // args.files + (1 if i < args.rules % args.files else 0) for i in range(args.files)]
    names = set()
    total = 0
    for count in per_file:
        prefix = g.r.choice(PREFIXES)
        while True:
            fname = "%s_%s_%s.yar" % (prefix, g.word(2, 3), g.word(2, 3))
            if fname not in names:
                names.add(fname)
                break
        with_pe = g.r.random() < 0.7
        parts = ["/*\n   Synthetic rules for the iocsweep benchmark (bench/gen_rules.py, seed %d).\n"
                 "   Shaped like signature-base; no real indicator or third-party text.\n*/\n" % args.seed]
        if with_pe:
            parts.append('import "pe"\n')
        for _ in range(count):
            parts.append(g.rule(prefix, with_pe))
            total += 1
        with open(os.path.join(args.out_dir, fname), "w", encoding="ascii") as f:
            f.write("\n".join(parts))
    print("gen_rules.py: %d rules in %d files under %s" % (total, len(per_file), args.out_dir))


if __name__ == "__main__":
    main()
