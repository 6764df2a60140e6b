"""How every subcommand fails: one line and exit status 2 for a user error, a traceback only with ``--debug``, a bug
report for a bug (jobs.common.run_main). In process, no Spark: these fail before a session would start."""

from __future__ import annotations

import pytest

from jobs import cli
from jobs.common import JobError, run_main


def lines(text: str) -> list[str]:
    return text.strip("\n").splitlines()


@pytest.mark.parametrize("sub", list(cli.COMMANDS))
def test_a_usage_mistake_is_one_line_in_every_subcommand(sub, capsys):
    assert cli.main([sub, "--no-such-option"]) == 2
    [line] = lines(capsys.readouterr().err)
    # A subcommand with a required argument names that one first.
    mistake = "unrecognized arguments: --no-such-option" if "required" not in line else "are required: "
    assert line.startswith("lakeforge: error: ") and mistake in line
    assert line.endswith(f"(lakeforge {sub} --help lists the options)")


def test_an_unknown_subcommand_is_one_line_with_a_suggestion(capsys):
    assert cli.main(["sqll", "SELECT 1"]) == 2
    assert lines(capsys.readouterr().err) == [
        "lakeforge: error: unknown subcommand 'sqll' (did you mean 'sql'? lakeforge --help lists them)"
    ]


def test_a_bad_value_is_one_line(capsys):
    assert cli.main(["sql", "--limit", "many", "SELECT 1"]) == 2
    [line] = lines(capsys.readouterr().err)
    assert line.startswith("lakeforge: error: argument --limit: invalid int value: 'many'")


def test_a_missing_file_is_one_line(capsys, tmp_path):
    assert cli.main(["sql", "--file", str(tmp_path / "nope.sql")]) == 2
    assert lines(capsys.readouterr().err) == [f"lakeforge: error: No such file or directory: {tmp_path / 'nope.sql'}"]


def refuse(argv):
    raise JobError("the input is wrong\nin two lines")


def crash(argv):
    return {}["missing"]


def test_debug_adds_the_traceback_of_a_user_error(capsys):
    assert run_main(refuse, []) == 2
    assert lines(capsys.readouterr().err) == ["lakeforge: error: the input is wrong in two lines"]
    assert run_main(refuse, ["--debug"]) == 2
    err = lines(capsys.readouterr().err)
    assert err[0] == "Traceback (most recent call last):" and "JobError: the input is wrong" in err[-3]
    assert err[-1] == "lakeforge: error: the input is wrong in two lines"
    # lakeforge --debug SUBCOMMAND: the global form, before the subcommand.
    assert cli.main(["--debug", "sql", "--limit", "many", "SELECT 1"]) == 2
    assert lines(capsys.readouterr().err)[0] == "Traceback (most recent call last):"


def test_a_bug_prints_its_traceback_and_says_it_is_one(capsys):
    assert run_main(crash, []) == 1
    err = lines(capsys.readouterr().err)
    assert err[0] == "Traceback (most recent call last):" and "KeyError: 'missing'" in err
    assert err[-1].startswith("lakeforge: internal error (a bug: please report it with the traceback above")
    assert err[-1].endswith("KeyError: 'missing'")


def test_debug_after_a_double_dash_is_an_argument(capsys):
    seen = []
    assert run_main(lambda argv: seen.append(argv), ["--debug", "x", "--", "--debug"]) == 0
    assert seen == [["x", "--", "--debug"]]


@pytest.mark.parametrize(("module", "extra"), [("ingest", []), ("curate", []), ("import_text", [])])
def test_several_inputs_after_one_flag_or_the_flag_repeated(module, extra):
    from importlib import import_module

    parser = import_module(f"jobs.{module}").parser()
    one_flag = parser.parse_args(["--input", "a.warc.gz", "b/", "c*.gz", *extra])
    repeated = parser.parse_args(["--input", "a.warc.gz", "-i", "b/", "--input", "c*.gz", *extra])
    assert one_flag.input == repeated.input == ["a.warc.gz", "b/", "c*.gz"]


def test_a_delta_error_spark_cannot_render_is_still_one_line(spark, tmp_path):
    """Spark's message helper does not know some of Delta's error classes (it raises instead of rendering them):
    the error is still one line, with Delta's own words."""
    from pyspark.errors.exceptions.captured import AnalysisException

    from jobs.common import user_error

    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "part-0.parquet").write_bytes(b"PAR1")
    with pytest.raises(AnalysisException) as info:
        spark.sql(f"CREATE TABLE default.orphan_files USING delta LOCATION '{tmp_path / 't'}'")
    line = user_error(info.value)
    assert line is not None and "\n" not in line and "DELTA" in line, line
