"""core/yamlout.py: what kubectl reads back is what was written, and a config file reads as
a file (a `|` block), not as one quoted line."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from app_operator.core import yamlout

NGINX_CONF = textwrap.dedent("""\
    server {
      listen 80;
      location / {
        proxy_pass http://web:5000;
      }
    }
    """)


def test_a_config_file_is_written_as_a_literal_block() -> None:
    spec = {"files": [{"mountPath": "/etc/nginx/conf.d/default.conf", "content": NGINX_CONF}]}
    text = yamlout.dump(spec)
    assert "content: |\n    server {\n      listen 80;\n" in text
    assert "\\n" not in text
    assert yaml.safe_load(text) == spec


def test_a_script_without_a_final_line_break_keeps_it_absent() -> None:
    args = ["sh", "-c", "set -e\nflask db upgrade\nexec gunicorn app:app"]
    text = yamlout.dump({"args": args})
    assert "- |-\n  set -e\n  flask db upgrade\n" in text
    assert yaml.safe_load(text) == {"args": args}


def test_what_a_block_cannot_hold_keeps_the_quoted_form() -> None:
    # trailing spaces before a line break, a tab, a carriage return: a block would lose or
    # change them, so they stay double-quoted, as before
    for value in ("listen 80;  \n}\n", "a\tb\nc\n", "a\r\nb\n", "line\nend "):
        text = yamlout.dump({"content": value})
        assert text.startswith('content: "'), text
        assert yaml.safe_load(text) == {"content": value}


def test_one_line_strings_are_unchanged() -> None:
    assert yamlout.dump({"a": "nginx:1.27", "b": "1e10", "c": "n"}) == (
        "a: nginx:1.27\nb: '1e10'\nc: 'n'\n")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab #:-|>'\"\n\t\r é\x85\u2028")), max_size=16))
def test_every_string_reads_back_as_itself(value: str) -> None:
    for text in (yamlout.dump({"content": value, "list": [value]}),
                 yamlout.dump_all([{"content": value}, {"content": value}])):
        loaded = list(yaml.safe_load_all(text))
        assert all(document["content"] == value for document in loaded), text


def test_convert_prints_a_corpus_nginx_conf_as_the_file_reads(
        capsys: pytest.CaptureFixture[str]) -> None:
    from app_operator.cli import main
    from tests.corpus import CORPUS

    project = CORPUS / "awesome-compose" / "nginx-golang"
    assert main(["convert", "compose", "--image-prefix", "registry.example.com/corpus",
                 str(project / "compose.yaml")]) == 0
    out = capsys.readouterr().out
    assert "    content: |-\n      server {\n        listen 80;\n" in out
    proxy = next(d for d in yaml.safe_load_all(out) if d["metadata"]["name"] == "proxy")
    conf = (project / "proxy" / "nginx.conf").read_text()
    assert proxy["spec"]["files"][0]["content"] == conf.rstrip("\n")
