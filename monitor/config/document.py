"""Reading checks.yaml's text into a YAML node tree that is safe to walk.

Everything the schema walker or the YAML constructor would choke on becomes a `Problem`
with its place instead of an exception: syntax errors, nesting beyond `MAX_DEPTH` (libyaml's
composer recurses in C and crashes the process at ~100,000 levels; the pure-Python one raises
RecursionError at ~1,000), tags other than YAML's plain ones (`!!python/str`, `!foo`), aliases
that loop back into the node holding them, and aliases that expand to a huge document
("billion laughs"). Merge keys (`<<: *base`) are supported: `merged_pairs` flattens them.
"""

from __future__ import annotations

import re
from itertools import accumulate, repeat
from operator import sub

import yaml
from yaml.events import CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from monitor.errors import Problem

MAX_DEPTH = 50  # a real checks.yaml nests about 8 deep (checks[].http.expect.json[].…)
EXPANSION_FACTOR = 20  # aliases may repeat shared parts, up to this many times the file
MERGE_TAG = "tag:yaml.org,2002:merge"
_CORE = "tag:yaml.org,2002:"
SCALAR_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp",
                                            "merge"))
COLLECTION_TAGS = frozenset((_CORE + "seq", _CORE + "map"))
# An anchor (&name) or a tag (!x, !!x) where YAML allows one (at the start of a line or after
# a space, '[', '{' or ','): only then can the node tree be anything but a plain tree of
# plain nodes, so only then is it walked before the schema (has_anchor_or_tag).
_AMP_OR_BANG = re.compile(r"[&!]\S")

# What `str.translate` keeps of a text to count indicators or brackets per line (every ASCII
# character but those and newlines is dropped; others stay and count: the bound only grows).
_ONLY_INDICATORS = {c: None for c in range(128) if chr(c) not in "-?[{\n"}
_ONLY_BRACKETS = {c: None for c in range(128) if chr(c) not in "[]{}\n"}

# libyaml's parser is several times faster; the pure-Python one is the fallback.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose(text: str, file: str) -> Node | Problem | None:
    """Parse YAML into a node tree (keeping places), or the Problem that prevents it."""
    deep = _too_deep(text, file)
    if deep is not None:
        return deep
    try:
        root: Node | Problem | None = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        root = _compose_for_message(text, file)
        if isinstance(root, Problem) or root is None:
            return root
    if isinstance(root, Node) and has_anchor_or_tag(text):
        return _shape_problem(root, file)
    return root


def has_anchor_or_tag(text: str) -> bool:
    """Whether the text may hold an anchor, alias or tag (a cheap test: it may say yes to a
    '&' or '!' in a plain value, never no to a real one). Only the '&'s and '!'s are
    looked at: a pattern for the whole rule tried every position (0.04 s at 20,000 checks)."""
    for found in _AMP_OR_BANG.finditer(text):
        at = found.start()
        if at == 0 or text[at - 1].isspace() or text[at - 1] in "[{,":
            return True
    return False


def _compose_for_message(text: str, file: str) -> Node | Problem | None:
    """The pure-Python parser words syntax errors better ("… but got '-'")."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        return Problem(file, line, col, "", plain_yaml_error(what, text, line, col))
    except yaml.YAMLError as exc:
        return Problem(file, 1, 1, "", f"YAML error: {exc}")
    except RecursionError:
        return Problem(file, 1, 1, "", f"nested more than {MAX_DEPTH} levels deep")


# PyYAML's words for the mistakes people make, and what they did wrong instead.
_PLAIN = (
    ("'\\t'", "a tab character: YAML indents with spaces only; replace the tab with "
                "2 or 4 spaces"),
    ("expected <block end>", "this line is indented differently from the ones above it — "
                             "use 2 or 4 spaces, no tabs"),
    ("did not find expected key", "this line is indented differently from the ones above "
                                  "it — use 2 or 4 spaces, no tabs"),
    ("did not find expected '-'", "this list item is indented differently from the ones "
                                  "above it — line the '-' up with theirs"),
    ("mapping values are not allowed", "a ':' where YAML did not expect one: put a value "
                                       "that holds ': ' in quotes, or check the indentation"),
    ("found unexpected end of stream", "a quote or bracket opened here is never closed"),
    ("could not find expected ':'", "a key without ':' (or a quote left open)"),
)


def plain_yaml_error(problem: str, text: str, line: int, column: int) -> str:
    """PyYAML's message in the words of what went wrong, with the line and a caret."""
    said = next((plain for raw, plain in _PLAIN if raw in problem),
                f"YAML syntax error: {problem}")
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return f"line {line}: {said}"
    shown = lines[line - 1].replace("\t", "→")
    return f"line {line}: {said}\n    {shown}\n    {' ' * (column - 1)}^"


def _too_deep(text: str, file: str) -> Problem | None:
    """A Problem when lists and mappings nest deeper than MAX_DEPTH.

    A cheap bound from the text (indentation, '-'/'?' indicators and brackets on a line,
    and flow brackets left open across lines) clears ordinary files; only a file that might
    be deep is parsed to events (libyaml's parser keeps its own stack, so that is safe).
    """
    lines = text.splitlines()
    # Per line at once (in C): the largest indentation plus the most indicators on any line
    # (not always on the same one: a bound, never below the real depth), and the flow
    # brackets left open from line to line.
    block = max(map(sub, map(len, lines), map(len, map(str.lstrip, lines, repeat(" ")))),
                default=0) + max(map(len, text.translate(_ONLY_INDICATORS).split("\n")))
    nets = (s.count("[") + s.count("{") - s.count("]") - s.count("}")
            for s in text.translate(_ONLY_BRACKETS).split("\n") if s)
    flow = max(accumulate(nets, lambda depth, net: max(0, depth + net), initial=0))
    if block + flow + 1 <= MAX_DEPTH:
        return None
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    line, column = (mark.line, mark.column) if mark is not None else (0, 0)
                    return Problem(file, line + 1, column + 1, "",
                                   f"nested more than {MAX_DEPTH} levels deep")
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return None  # compose reports the syntax error, with its place
    return None


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _shape_problem(root: Node, file: str) -> Node | Problem:
    """The root back, or the first problem of its shape: a tag, an alias loop or bomb, depth."""
    memo: dict[int, tuple[int, int]] = {}  # id(node) → (expanded size, height)
    open_: set[int] = set()
    limit = 0
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            sizes = [memo[id(c)] for c in _children(node)]
            size = 1 + sum(s for s, _ in sizes)
            height = 1 + max((h for _, h in sizes), default=0)
            memo[key] = (size, height)
            open_.discard(key)
            if height > MAX_DEPTH + 1:
                return _at(file, node, f"nested more than {MAX_DEPTH} levels deep "
                                       "(counting what aliases repeat)")
            if size > EXPANSION_FACTOR * limit + 100_000:
                return _at(file, node, "aliases repeat this part too often "
                                       f"({size:,} values in all)")
            continue
        if key in memo:
            continue
        if key in open_:
            return _at(file, node, "an alias refers to a node that contains it (a loop)")
        tag = _bad_tag(node)
        if tag:
            return _at(file, node, f"unsupported tag {tag}: checks.yaml takes plain strings, "
                                   "numbers, booleans, lists and mappings")
        limit += 1
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in memo)
    return root


def _bad_tag(node: Node) -> str | None:
    allowed = SCALAR_TAGS if isinstance(node, ScalarNode) else COLLECTION_TAGS
    if node.tag in allowed:
        return None
    return "!!" + node.tag[len(_CORE):] if node.tag.startswith(_CORE) else str(node.tag)


def _at(file: str, node: Node, message: str) -> Problem:
    return Problem(file, node.start_mark.line + 1, node.start_mark.column + 1, "", message)


def merged_pairs(node: MappingNode) -> tuple[list[tuple[Node, Node]], list[Node]]:
    """The key/value pairs of a mapping with merge keys (`<<: *base`) resolved, and the
    merge values that are neither a mapping nor a list of mappings.

    A mapping's own keys come first and win; merged keys follow (an earlier merge source
    wins over a later one), minus those the mapping sets itself. Merge sources may merge too.
    """
    own = [(k, v) for k, v in node.value if k.tag != MERGE_TAG]
    bad: list[Node] = []
    sources: list[MappingNode] = []
    for k, v in node.value:
        if k.tag != MERGE_TAG:
            continue
        items = v.value if isinstance(v, SequenceNode) else [v]
        for item in items:
            if isinstance(item, MappingNode):
                sources.append(item)
            else:
                bad.append(item)
    if not sources:
        return own, bad
    taken = {k.value for k, _ in own if isinstance(k, ScalarNode)}
    pairs = list(own)
    for source in sources:
        inner, inner_bad = merged_pairs(source)
        bad.extend(inner_bad)
        for k, v in inner:
            name = k.value if isinstance(k, ScalarNode) else None
            if name is not None and name in taken:
                continue
            taken.add(name)
            pairs.append((k, v))
    return pairs, bad


_SIAGA_BLOCK = re.compile(r"(?m)^siaga:[^\n]*(?:\n(?:[ \t][^\n]*|[ \t]*#[^\n]*|[ \t]*))*")
_LANGUAGE = re.compile(r"""(?:^|[{,\n])[ \t]*language[ \t]*:[ \t]*["']?(id|en)\b""")


def stated_language(text: str) -> str | None:
    """`siaga.language` as written, read from the text: a file that does not parse (a tab,
    a bad indent) still says which language its errors are to be told in."""
    block = _SIAGA_BLOCK.search(text)
    if block is None:
        return None
    body = block.group(0)[len("siaga:"):]
    flow = body.lstrip(" \t")
    if flow.startswith("{"):
        body = flow[: flow.find("}") + 1 or None]
    else:  # only the block's first level: officers have a `language:` of their own deeper
        indents = [len(m) - len(m.lstrip(" \t")) for m in body.splitlines()
                   if m.strip() and not m.lstrip().startswith("#")]
        first = min(indents, default=0)
        body = "\n".join(m for m in body.splitlines()
                         if len(m) - len(m.lstrip(" \t")) == first)
    match = _LANGUAGE.search(body)
    return match.group(1) if match else None
