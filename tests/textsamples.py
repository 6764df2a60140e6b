"""Texts shared by the filter and extraction tests: inline prose that passes, boilerplate, spam, another script,
article paragraphs, and real Wikipedia paragraphs from ../shared/data."""

import pytest

PROSE = (
    "The river town of Millbrook sits at the bend of a slow, brown river. For most of the nineteenth century it "
    "was known for its paper mills, which drew water from the river and power from a series of small dams. When "
    "the mills closed in the 1960s, many families moved away to find work in the larger cities to the south.\n"
    "\n"
    "Today the old mill buildings have been turned into apartments, a library and a small museum. Visitors can "
    "walk along the river path and read about the history of the town on signs placed near each of the dams. The "
    "museum is open every day except Monday, and entry is free for children under twelve.\n"
)
NAV = (
    "Home\nAbout Us\nProducts\nContact\nLogin | Register\nPrivacy Policy\nTerms of Use\n"
    "© 2024 Example Corp. All rights reserved.\nHome\nProducts\n"
)
MILL_PARAGRAPHS = [
    "In the valley below the old mill, the river turns twice before it reaches the town, and every spring the "
    "meadows on both banks flood for a week or two.",
    "The mill itself was built in 1843 by a family of weavers who had come from the north with little more than "
    "their looms and a letter of recommendation.",
    "Today the building houses a small museum, a bakery that still uses the original stone oven, and a workshop "
    "where volunteers restore old agricultural machines.",
]
"""Article paragraphs the extraction tests wrap in HTML (each long enough to pass trafilatura's size limits)."""
SPAM = "\n\n".join(["Buy cheap watches online now! Best prices, free shipping, order today."] * 8)
CHINESE = (
    "北京是中华人民共和国的首都，也是全国的政治、文化和国际交往中心。北京有着三千多年的建城史和八百多年的建都史。"
    "这座城市拥有许多著名的名胜古迹，例如故宫、天坛和长城。每年都有数百万游客来到北京参观。"
    "北京的交通十分便利，地铁网络覆盖了城市的大部分地区。"
)


def wikipedia_docs(shared_data, n_docs=5, n_lines=40):
    """``n_docs`` documents of ``n_lines`` consecutive lines of WikiText-2 (skips when the file is absent)."""
    path = shared_data / "corpora" / "wikitext2_partial" / "valid.txt"
    if not path.is_file():
        pytest.skip(f"../shared/data is absent or incomplete: {path} is missing")
    all_lines = path.read_text(encoding="utf-8").splitlines()
    return ["\n".join(all_lines[i * 3 * n_lines : i * 3 * n_lines + n_lines]) for i in range(n_docs)]
