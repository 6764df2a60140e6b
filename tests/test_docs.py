"""The documentation against the code: README.md stays a front page, and nothing the code has goes undescribed.

Fast and without Spark: reads README.md, docs/**.md, ``schemas.ALL_TABLES`` and ``jobs.cli.COMMANDS``, and the
folders on disk. Each check lists everything that drifted, so one run says what to write.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
README_LIMIT = 12 * 1024  # bytes: a front page a newcomer reads in five minutes

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def doc_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def all_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in doc_files())


def described(name: str, text: str) -> bool:
    """``name`` as a code span of its own (`` `documents` ``) or a word in a Markdown heading."""
    if f"`{name}`" in text:
        return True
    heading = re.compile(rf"^#+ .*(?<![\w.-]){re.escape(name)}(?![\w-])", re.M)
    return bool(heading.search(text))


def path_mentioned(parts: tuple[str, ...], text: str) -> bool:
    """``curation/spark/documents`` (or ``.py``, or ``curation.spark.documents``) written out in full."""
    pattern = r"[/.]".join(re.escape(p) for p in parts)
    return bool(re.search(rf"(?<![\w./-]){pattern}(?![\w-])", text))


def test_readme_is_a_front_page():
    size = README.stat().st_size
    assert size <= README_LIMIT, (
        f"README.md is {size:,} bytes, over {README_LIMIT:,}: keep it a front page and move detail into docs/"
    )


def test_docs_folder_exists_and_readme_links_every_page():
    pages = sorted(DOCS.rglob("*.md"))
    assert pages, "docs/ has no Markdown pages"
    linked = {
        (README.parent / target.split("#")[0]).resolve()
        for target in LINK.findall(FENCE.sub("", README.read_text(encoding="utf-8")))
        if not SCHEME.match(target) and not target.startswith("#")
    }
    orphans = [str(p.relative_to(REPO)) for p in pages if p.resolve() not in linked]
    assert not orphans, f"README.md links to no page of these (add them under Documentation): {orphans}"


def test_every_table_and_view_is_described():
    from schemas import ALL_TABLES, VIEWS

    names = sorted(ALL_TABLES) + sorted(VIEWS)
    assert {"documents", "pages", "runs", "kept"} <= set(names)  # the listing itself still works
    text = all_text()
    missing = [n for n in names if not described(n, text)]
    assert not missing, f"tables/views in schemas/ described nowhere in README.md or docs/ (as `name`): {missing}"


def top_level_packages() -> list[str]:
    """Every top-level folder holding Python code (curation, jobs, schemas, training, bench, eval, tests, ...)."""
    return sorted(
        d.name
        for d in REPO.iterdir()
        if d.is_dir() and not d.name.startswith((".", "_")) and d.name != "docs" and any(d.glob("*.py"))
    )


def curation_parts() -> list[tuple[str, ...]]:
    """The subpackages and top-level modules of curation/, and the modules of curation/spark/."""
    root = REPO / "curation"
    parts = [("curation", d.name) for d in sorted(root.iterdir()) if (d / "__init__.py").is_file()]
    parts += [("curation", f.stem) for f in sorted(root.glob("*.py")) if f.name != "__init__.py"]
    parts += [("curation", "spark", f.stem) for f in sorted((root / "spark").glob("*.py")) if f.name != "__init__.py"]
    return parts


def test_every_top_level_package_is_described():
    packages = top_level_packages()
    assert {"curation", "jobs", "schemas", "training", "eval"} <= set(packages)
    text = all_text()
    missing = [p for p in packages if not re.search(rf"(?<![\w./-]){re.escape(p)}/", text)]
    assert not missing, f"top-level packages not described in README.md or docs/ (as `name/`): {missing}"


def test_every_curation_package_and_module_is_described():
    parts = curation_parts()
    assert ("curation", "warc") in parts and ("curation", "spark", "session") in parts
    text = all_text()
    missing = ["/".join(p) for p in parts if not path_mentioned(p, text)]
    assert not missing, (
        f"curation/ packages and modules named nowhere in README.md or docs/ (as curation/NAME): {missing}"
    )


def readme_cli_table() -> list[str]:
    """The subcommands in README's table whose header's first cell is ``subcommand``."""
    names, in_table = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else None
        if cells is None:
            in_table = False
        elif cells[0] == "subcommand":
            in_table = True
        elif in_table and (m := re.match(r"`([a-z][a-z-]*)", cells[0])):
            names.append(m.group(1))
    return names


def test_readme_cli_table_lists_every_subcommand():
    from jobs.cli import COMMANDS

    assert "sql" in COMMANDS
    listed = readme_cli_table()
    missing = [c for c in COMMANDS if c not in listed]
    stale = [c for c in listed if c not in COMMANDS]
    assert not missing and not stale, (
        f"README.md's CLI table against jobs/cli.py COMMANDS: missing {missing}, not a subcommand {stale}"
    )


@pytest.mark.parametrize("page", doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page: Path):
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        if SCHEME.match(target) or target.startswith("#"):
            continue
        if not (page.parent / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)}: relative links to nothing: {broken}"
