"""The front pages and docs/ hold together: links, anchors, pictures, both READMEs."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "README.zh-CN.md", *sorted(ROOT.glob("docs/*.md"))]
FENCE = re.compile(r"^ *```.*?^ *```", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(<?([^)\s>]+)")  # [text](target) and ![alt](target)


def read(page):
    return page.read_text(encoding="utf-8")


def targets(page):
    """Link and picture targets outside code, relative ones only."""
    prose = re.sub(r"`[^`\n]*`", "", FENCE.sub("", read(page)))
    return [t for t in LINK.findall(prose) if not re.match(r"[a-z][\w+.-]*:", t)]


def slug(heading):
    """GitHub's anchor: lower case; only letters, digits, _, -, spaces (hyphens)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(page):
    """A page's anchors, -1, -2... after a repeated one, as GitHub numbers them."""
    found = re.findall(r"^#{1,6} +(.*?)[ #]*$", FENCE.sub("", read(page)), re.M)
    bases = [slug(heading) for heading in found]
    return [
        f"{b}-{bases[:i].count(b)}" if b in bases[:i] else b
        for i, b in enumerate(bases)
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_links_and_pictures_point_to_files_and_headings(page):
    assert targets(page), f"{page.name} links to nothing"
    for target in targets(page):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.is_file(), f"{page.name}: {target} is not a file"
        if anchor:
            assert linked.suffix == ".md" and anchor in anchors(linked), (
                f"{page.name}: {target} names no heading of {linked.name}"
            )


def test_anchors_are_githubs_and_every_page_and_picture_in_docs_is_shown():
    assert slug("What changed, and why?") == "what-changed-and-why"
    assert slug("`gan.py` as a [notebook](x.md)") == "ganpy-as-a-notebook"
    assert slug("停止与继续（`--resume`）") == "停止与继续--resume"
    shown = {
        (p.parent / t.partition("#")[0]).resolve() for p in PAGES for t in targets(p)
    }
    unshown = [f.name for f in ROOT.glob("docs/*") if f.resolve() not in shown]
    assert not unshown, f"nothing links to {unshown}"


def test_the_chinese_front_page_has_the_english_ones_code_blocks():
    english = FENCE.findall(read(ROOT / "README.md"))
    assert english and FENCE.findall(read(ROOT / "README.zh-CN.md")) == english
