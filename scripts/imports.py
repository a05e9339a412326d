#!/usr/bin/env python3
"""The module-level import graph of src/ and its circles (docs/architecture.md).

Reads every `src/**/*.rs`, resolves each `use crate::…`, `use super::…`, `use self::…` or
child-module `use` (and paths like `crate::web::guard::f(…)` written inline in code) to
the module it names, and draws an edge from the importing module to it. A node is a
top-level module (`store`, `web`, `api`, …), except inside the modules listed in
FILE_LEVEL, where each file is a node (`realtime/hub`, `realtime/mod`, …). Prints the
circles (strongly connected components of more than one node), then the imports that
run from a lower layer up to a higher one (LAYERS), then the counts. A pair is two
modules that import each other, the smallest circle.

    python3 scripts/imports.py          # circles and upward imports
    python3 scripts/imports.py --edges  # also every edge, importer -> imported
    python3 scripts/imports.py --src DIR  # another tree, e.g. a `git archive` of main
    python3 scripts/imports.py --with-tests  # unit tests' imports too

Unit tests (`mod tests { … }` and `tests.rs` files) are left out: they are compiled only
into the test binary, and a test may well compare two layers. `--with-tests` keeps them.

Exits 1 when there is a circle or an upward import, so it can guard a build.
Standard library only.
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

# Modules drawn file by file rather than as one node.
FILE_LEVEL = {"realtime", "streams"}

# Bottom to top. A module may import its own layer and those below; a module not listed
# is reported, so a new one gets a place here.
LAYERS = [
    (
        "base",
        {
            "clock",
            "query",
            "error_chain",
            "domain",
            "avatar",
            "origin",
            "browser_policy",
            "overload",
            "log_writer",
        },
    ),
    ("store", {"store", "metrics"}),
    (
        "policy",
        {
            "config",
            "limits",
            "error",
            "backup",
            "seed",
            "sim",
            "telemetry",
            "error_reports",
            "session_cookie",
        },
    ),
    ("engine", {"realtime"}),
    ("state", {"state", "health", "scrape", "rate_limit"}),
    ("actions", {"actions", "registration", "posting", "moderation"}),
    ("surfaces", {"api", "web", "streams", "mastodon", "assets"}),
    ("startup", {"startup", "crate"}),
]


def layer_of(node):
    top = node.split("/")[0]
    for rank, (_, members) in enumerate(LAYERS):
        if top in members:
            return rank
    return None


def module_path(src, file):
    """`src/realtime/hub.rs` -> ("realtime", "hub"); `…/mod.rs` names its folder."""
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    if parts == ["lib"]:
        parts = []
    return tuple(parts)


def node_of(path):
    if not path:
        return "crate"
    if path[0] in FILE_LEVEL:
        return f"{path[0]}/{path[1]}" if len(path) > 1 else f"{path[0]}/mod"
    return path[0]


STRING = re.compile(r'r(#*)"(?:.|\n)*?"\1|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\\\'])\'')
LINE_COMMENT = re.compile(r"//[^\n]*")
BLOCK_COMMENT = re.compile(r"/\*(?:.|\n)*?\*/")


def clean(text):
    """The code without comments and literals (which may hold braces or `use`)."""
    text = BLOCK_COMMENT.sub(" ", text)
    out, pos = [], 0
    # Strings first, so `//` inside a string is not a comment; then comments.
    for m in STRING.finditer(text):
        out.append(LINE_COMMENT.sub(" ", text[pos : m.start()]))
        out.append('""')
        pos = m.end()
    out.append(LINE_COMMENT.sub(" ", text[pos:]))
    return "".join(out)


def inline_modules(code):
    """(start, end, name) of every `mod name { … }` written inside a file; the name of a
    `#[cfg(test)]` one is "tests"."""
    found = []
    for m in re.finditer(r"(#\[cfg\(test\)\]\s*)?(?:pub(?:\([\w:]+\))?\s+)?\bmod\s+(\w+)\s*\{", code):
        depth, i = 1, m.end()
        while i < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[i], 0)
            i += 1
        found.append((m.start(), i, "tests" if m.group(1) else m.group(2)))
    return found


def expand(tree):
    """`a::{b, c::{d, self}}` -> [[a, b], [a, c, d], [a, c]]."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)

    def parse(s, prefix):
        paths, i, part = [], 0, ""
        while i < len(s):
            ch = s[i]
            if ch == "{":
                depth, j = 1, i + 1
                while depth:
                    depth += {"{": 1, "}": -1}.get(s[j], 0)
                    j += 1
                head = [p for p in part.split("::") if p]
                for item in split_top(s[i + 1 : j - 1]):
                    paths += parse(item, prefix + head)
                part, i = "", j
                continue
            part += ch
            i += 1
        if part:
            segs = [p for p in part.split("::") if p]
            if segs and segs[-1] == "self":
                segs.pop()
            if segs and segs[-1] == "*":
                segs.pop()
            paths.append(prefix + segs)
        return paths

    return parse(tree, [])


def split_top(s):
    items, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        cur += ch
    if cur:
        items.append(cur)
    return items


def resolve(segs, here, modules):
    """The module a path starting in module `here` names, or None (another crate)."""
    if not segs:
        return None
    first = segs[0]
    if first == "crate":
        absolute = list(segs[1:])
    elif first in ("super", "self"):
        base, rest = list(here), list(segs)
        while rest and rest[0] in ("super", "self"):
            if rest.pop(0) == "super":
                base = base[:-1]
        absolute = base + rest
    elif tuple(here) + (first,) in modules:
        absolute = list(here) + list(segs)
    else:
        return None
    # The longest prefix that is a module (the rest is an item in it).
    for n in range(len(absolute), -1, -1):
        if tuple(absolute[:n]) in modules:
            return tuple(absolute[:n])
    return None


def scan(src, with_tests):
    files = sorted(
        p
        for p in src.rglob("*.rs")
        if (p.name != "main.rs" or p.parent != src) and (with_tests or p.name != "tests.rs")
    )
    modules = {module_path(src, f) for f in files}
    parsed = {}
    for f in files:
        code = clean(f.read_text(encoding="utf-8"))
        inline = inline_modules(code)
        for _, _, name in inline:
            modules.add(module_path(src, f) + (name,))
        parsed[f] = (code, inline)
    edges = defaultdict(set)  # importer -> {imported}
    for f, (code, inline) in parsed.items():
        file_mod = module_path(src, f)
        me = node_of(file_mod)

        def here_at(pos):
            names = [n for start, end, n in sorted(inline) if start < pos < end]
            return file_mod + tuple(names)

        def add(segs, pos):
            if not with_tests and "tests" in here_at(pos)[len(file_mod) :]:
                return
            target = resolve(segs, here_at(pos), modules)
            if target is not None and node_of(target) != me:
                edges[me].add(node_of(target))

        uses = list(re.finditer(r"\buse\s+([^;]+);", code))
        for m in uses:
            for segs in expand(m.group(1)):
                add(segs, m.start())
        rest = code
        for m in reversed(uses):
            rest = rest[: m.start()] + " " * (m.end() - m.start()) + rest[m.end() :]
        for m in re.finditer(r"(?<![\w:])((?:crate|super|self|\w+)(?:::\w+)+)", rest):
            segs = m.group(1).split("::")
            if segs[0] in ("crate", "super", "self") or (
                here_at(m.start()) + (segs[0],) in modules
            ):
                add(segs, m.start())
        edges.setdefault(me, set())
    return edges


def circles(edges):
    """Tarjan's strongly connected components with more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out)


def main():
    src = Path(__file__).resolve().parent.parent / "src"
    if "--src" in sys.argv:
        src = Path(sys.argv[sys.argv.index("--src") + 1])
    edges = scan(src, "--with-tests" in sys.argv)
    if "--edges" in sys.argv:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"{a} -> {b}")
        print()
    found = circles(edges)
    for comp in found:
        inside = set(comp)
        pairs = [f"{a} -> {b}" for a in comp for b in sorted(edges[a]) if b in inside]
        print(f"circle of {len(comp)}: {', '.join(comp)}")
        for p in pairs:
            print(f"    {p}")
    pairs = sorted(
        f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, ())
    )
    for line in pairs:
        print(f"pair: {line}")
    upward, unplaced = [], set()
    for a in sorted(edges):
        for b in sorted(edges[a]):
            la, lb = layer_of(a), layer_of(b)
            for node, rank in ((a, la), (b, lb)):
                if rank is None:
                    unplaced.add(node.split("/")[0])
            if la is not None and lb is not None and lb > la:
                upward.append(f"{a} ({LAYERS[la][0]}) -> {b} ({LAYERS[lb][0]})")
    for line in upward:
        print(f"upward: {line}")
    for name in sorted(unplaced):
        print(f"no layer: {name} (add it to LAYERS in scripts/imports.py)")
    nodes = len(edges)
    count = sum(len(v) for v in edges.values())
    print(
        f"{nodes} modules, {count} imports, {len(found)} circles "
        f"({sum(map(len, found))} modules in them), {len(pairs)} pairs importing each "
        f"other, {len(upward)} upward imports"
    )
    return 1 if found or upward or unplaced else 0


if __name__ == "__main__":
    sys.exit(main())
