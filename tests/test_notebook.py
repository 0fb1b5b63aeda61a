"""In a notebook: a network's rich display (`_repr_html_`), parsed as a browser would;
`nnc.load_string` on a cell's text, whose errors quote the cell's line with a caret; and
the Pygments lexer that highlights .arch text."""
import re
from html.parser import HTMLParser

import pytest
from conftest import ARCHITECTURES, IN_CI, needs_dot

import nnc
from nnc.present.report import ROW_HEADERS

VOID = {"br", "hr", "img", "meta", "link", "input"}


class Page(HTMLParser):
    """The tables by class (each a list of rows of cell texts), every text, and whether
    each tag that was opened was closed in order."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.texts: list[str] = []
        self.open: list[str] = []
        self.tags: set[str] = set()
        self.classes: set[str] = set()
        self.mismatched: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.classes.add(dict(attrs).get("class") or "")
        if tag == "table":
            self.table = self.tables.setdefault(dict(attrs).get("class"), [])
        elif tag == "tr":
            self.table.append([])
        elif tag in ("td", "th"):
            self.table[-1].append("")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.mismatched.append(tag)

    def handle_data(self, data):
        self.texts.append(data)
        if self.open and self.open[-1] in ("td", "th"):
            self.table[-1][-1] += data


def number(text: str) -> int:
    return int(text.split(" ")[0].replace(",", ""))


def test_the_display_shows_every_row_of_the_file_and_the_totals(load):
    net = load("resnet50")
    page = Page(net._repr_html_())
    assert page.mismatched == [] and page.open == []
    header, *rows = page.tables["nnc-rows"]
    assert header == ROW_HEADERS
    written = re.findall(r"^(\w+):", (ARCHITECTURES / "resnet50.arch").read_text(), re.M)
    assert [row[0] for row in rows] == written == ["conv1", "conv2_x", "conv3_x", "conv4_x",
                                                   "conv5_x", "pool", "fc"]
    assert [number(row[6]) for row in rows] == [r.totals.params for r in net.stats.rows]
    totals = dict(page.tables["nnc-totals"])
    t = net.stats.totals
    assert (number(totals["params"]), number(totals["trainable"]),
            number(totals["non-trainable"]), number(totals["MACs"])) == (
        t.params, t.trainable, t.non_trainable, t.macs) == (25_610_152, 25_557_032, 53_120,
                                                            t.macs)
    assert "network resnet50" in page.texts and "input 224×224×3, output 1000" in page.texts


def test_side_heads_get_totals_of_their_own(load):
    net = load("googlenet")
    totals = dict(Page(net._repr_html_()).tables["nnc-totals"])
    assert number(totals["without heads: params"]) == net.stats.main.params
    assert net.stats.main.params < number(totals["params"]) == net.stats.totals.params


@needs_dot
def test_the_diagram_is_inline_svg(load):
    if not IN_CI:
        pytest.importorskip("graphviz", reason="pip install 'nnc[draw]' (CI has it)")
    html = load("resnet50")._repr_html_()
    page = Page(html)
    assert "svg" in page.tags and "<?xml" not in html and "<!DOCTYPE" not in html
    assert "bottleneck(256) ×5" in page.texts   # conv4_x's five repeated calls, one node
    assert "nnc-no-diagram" not in page.classes


def test_without_graphviz_a_note_stands_in_for_the_diagram(load, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on it
    page = Page(load("resnet50")._repr_html_())
    assert "svg" not in page.tags and "nnc-no-diagram" in page.classes
    assert any("needs Graphviz" in text and "apt-get install graphviz" in text
               for text in page.texts)
    assert len(page.tables["nnc-rows"]) == 8   # the rest of the display is all there


def test_text_from_a_cell_compiles():
    net = nnc.load_string("network cell\ninput 8x8x3\nc1: conv3-4\nfc: fc-10\n")
    assert isinstance(net, nnc.Net) and net.network.name == "cell"
    assert net.stats.totals.params == 3 * 3 * 3 * 4 + 4 + 8 * 8 * 4 * 10 + 10
    assert [row[0] for row in Page(net._repr_html_()).tables["nnc-rows"][1:]] == ["c1", "fc"]


def test_an_error_in_a_cell_quotes_its_line_with_a_caret():
    with pytest.raises(nnc.NncError) as info:
        nnc.load_string("network cell\ninput 8x8x3\nc1: conv3-4, convv3-8\n", name="In [3]")
    assert str(info.value).splitlines() == [
        "In [3]:3:14: error: unknown layer kind or block 'convv3'; did you mean 'conv'?",
        "  c1: conv3-4, convv3-8",
        "               ^"]
    with pytest.raises(nnc.NncError) as syntax:
        nnc.load_string("input 8x8x3\nc1: conv3-4,, fc-2\n")
    assert str(syntax.value).splitlines()[1:] == ["  c1: conv3-4,, fc-2", "              ^"]
    assert str(syntax.value).startswith("cell.arch:2:13: error: ")


def test_errors_from_files_keep_their_one_line_text():
    with pytest.raises(nnc.NncError) as info:
        nnc.compile_text("input 8x8x3\nc1: convv3-8\n", "t.arch")
    assert str(info.value) == info.value.message


def lex(text: str) -> list[tuple[str, str]]:
    from nnc.present.lexer import ArchLexer
    return [(str(token), value) for token, value in ArchLexer().get_tokens(text)
            if value.strip()]


@pytest.mark.parametrize("path", sorted(ARCHITECTURES.glob("*.arch")), ids=lambda p: p.stem)
def test_every_shipped_file_lexes_without_errors(path):
    text = path.read_text()
    from pygments.token import Error

    from nnc.present.lexer import ArchLexer
    tokens = list(ArchLexer().get_tokens(text))
    assert [value for token, value in tokens if token in Error] == []
    assert "".join(value for _, value in tokens).rstrip("\n") == text.rstrip("\n")


def test_the_lexer_is_registered_for_arch_blocks_and_files():
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
    assert type(get_lexer_by_name("arch")).__name__ == "ArchLexer"
    assert type(get_lexer_for_filename("resnet50.arch")).__name__ == "ArchLexer"


def test_tokens_of_the_papers_notation():
    assert lex("conv2_x: maxpool3/2, bottleneck(64) x3  # ResNet\n") == [
        ("Token.Name.Label", "conv2_x"), ("Token.Punctuation", ":"),
        ("Token.Name.Builtin", "maxpool3"), ("Token.Operator", "/"),
        ("Token.Literal.Number.Integer", "2"), ("Token.Punctuation", ","),
        ("Token.Name", "bottleneck"), ("Token.Punctuation", "("),
        ("Token.Literal.Number.Integer", "64"), ("Token.Punctuation", ")"),
        ("Token.Operator", "x"), ("Token.Literal.Number.Integer", "3"),
        ("Token.Comment.Single", "# ResNet")]
    assert lex("c: conv1x7-8 ×2, fc-4096, dropout(0.5)\n")[2:6] == [
        ("Token.Name.Builtin", "conv1x7"), ("Token.Operator", "-"),
        ("Token.Literal.Number.Integer", "8"), ("Token.Operator", "×")]
    assert lex("input 224 x 224 x 3\n") == [("Token.Keyword.Declaration", "input"),
                                            ("Token.Literal.Number", "224 x 224 x 3")]
    assert lex("expect macs ≈ 25.6M ±2%\n") == [
        ("Token.Keyword.Declaration", "expect"), ("Token.Name.Variable", "macs"),
        ("Token.Operator", "≈"), ("Token.Literal.Number", "25.6M"), ("Token.Operator", "±"),
        ("Token.Literal.Number", "2"), ("Token.Operator", "%")]
    assert ("Token.Literal.Number", "25,557,032") in lex("expect params = 25,557,032\n")


def test_tokens_of_blocks_compounds_and_expressions():
    tokens = lex('block unit(w, s=1):\n    residual(shortcut=B):\n'
                 '        conv1-{4*w}/{s}, skip(down1)\nuse "base.arch"\n')
    assert tokens[:3] == [("Token.Keyword.Declaration", "block"),
                          ("Token.Name.Function", "unit"), ("Token.Punctuation", "(")]
    assert ("Token.Name.Attribute", "s") in tokens
    assert ("Token.Keyword", "residual") in tokens and ("Token.Keyword.Pseudo", "skip") in tokens
    braces = tokens[tokens.index(("Token.Operator", "-")) + 1:][:5]
    assert braces == [("Token.Punctuation", "{"), ("Token.Literal.Number.Integer", "4"),
                      ("Token.Operator", "*"), ("Token.Name.Variable", "w"),
                      ("Token.Punctuation", "}")]
    assert tokens[-2:] == [("Token.Keyword.Declaration", "use"),
                           ("Token.Literal.String.Double", '"base.arch"')]
