"""The documentation holds together: README.md stays a short front door, every relative link in README.md and
docs/*.md leads to a file (and heading) that exists, every page of docs/ is reachable from the README, and every
environment variable the application reads is documented in docs/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_LIMIT = 10_000  # bytes, as `wc -c` counts them

# The packages whose Python code reads the environment (infra/ from issue #20 on).
CODE_PACKAGES = ("engine", "services", "web", "infra")
# Names that match LIANXIN_* in the code but are not environment variables, each with the reason.
NOT_ENVIRONMENT = {
    "LIANXIN_NS": "engine/definitions.py: the XML namespace of Lianxin's BPMN extension attributes, a constant",
}

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
VARIABLE = re.compile(r"LIANXIN_[A-Z0-9_]*[A-Z0-9]")


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are code, not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    return LINK.findall(prose(text))


def slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading: lower case, punctuation dropped (letters of any script,
    digits, '_' and '-' kept), spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors by its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for _level, title in HEADING.findall(FENCE.sub("", text)):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def broken_links(source: Path, text: str) -> list[str]:
    """Each relative link of `text` (written in `source`) whose file or heading does not exist."""
    problems = []
    for target in links(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http:, https:, mailto: ... are not files of the project
        path_part, _, anchor = target.partition("#")
        path = (source.parent / path_part).resolve() if path_part else source
        if path_part and not path.exists():
            problems.append(f"{source.name}: {target} (no file {path_part})")
            continue
        if anchor and path.suffix == ".md":
            headings = anchors(path.read_text(encoding="utf-8") if path_part else text)
            if anchor not in headings:
                problems.append(f"{source.name}: {target} (no heading #{anchor} in {path.name})")
    return problems


def variables_in_code() -> dict[str, str]:
    """Every LIANXIN_* name in the application's Python code -> the first file naming it."""
    found: dict[str, str] = {}
    for package in CODE_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in VARIABLE.findall(path.read_text(encoding="utf-8")):
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_the_readme_is_a_front_door_of_at_most_ten_kilobytes():
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md has {size} bytes; move detail to the docs/ page of its audience"


def test_the_readme_keeps_the_two_commands_and_says_where_the_interface_is_documented():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
    assert "docs/operations.md" in text and "docs/api.md" in text and "interface" in text


@pytest.mark.parametrize("source", [README, *pages()], ids=lambda path: path.name)
def test_every_relative_link_resolves(source):
    assert broken_links(source, source.read_text(encoding="utf-8")) == []


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README.read_text("utf-8"))}
    missing = [page.name for page in pages() if page.resolve() not in linked]
    assert missing == [], f"docs pages not linked from README.md: {missing}"


def test_every_environment_variable_of_the_code_is_documented_in_docs():
    documented = "\n".join(page.read_text(encoding="utf-8") for page in pages())
    code = variables_in_code()
    assert code, "no LIANXIN_* name found in the code: the scan is looking in the wrong place"
    missing = sorted(f"{name} ({where})" for name, where in code.items()
                     if name not in NOT_ENVIRONMENT and not re.search(rf"\b{name}\b", documented))
    assert missing == [], f"environment variables read by the code but not documented in docs/*.md: {missing}"


def test_the_exceptions_are_still_in_the_code():
    stale = sorted(set(NOT_ENVIRONMENT) - set(variables_in_code()))
    assert stale == [], f"listed as not environment variables but no longer in the code: {stale}"


# The checks themselves must bite: each is shown a broken case.

def test_a_missing_file_or_heading_is_reported(tmp_path):
    source = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## Some heading (with `code`)\n", encoding="utf-8")
    text = ("[ok](other.md) [ok](other.md#some-heading-with-code) [gone](nowhere.md) [bad](other.md#nope) "
            "[self](#missing) [web](https://example.org/x) `[code](not-a-link.md)`\n\n```\n[fenced](no.md)\n```\n")
    assert broken_links(source, text) == [
        "page.md: nowhere.md (no file nowhere.md)",
        "page.md: other.md#nope (no heading #nope in other.md)",
        "page.md: #missing (no heading #missing in page.md)",
    ]


def test_anchors_follow_the_headings_as_a_renderer_makes_them():
    text = "# 运维 (operations): install\n## Configuration\n## Configuration\n### 已验证的保证\n"
    assert anchors(text) == {"运维-operations-install", "configuration", "configuration-1", "已验证的保证"}
