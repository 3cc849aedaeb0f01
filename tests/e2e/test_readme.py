"""The README stays true: its commands are what CI runs, its table lists every setting."""

import re

from helpers import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README)


def test_readme_starts_with_the_run_and_test_commands():
    run_command, test_command = readme_commands()[:2]
    assert run_command.endswith("pollserver serve")
    assert test_command.endswith("-m pytest")
    assert "'.[test]'" in test_command


def test_ci_runs_the_readme_test_command_word_for_word():
    ci_script = (REPO_ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci_script


def test_every_environment_variable_pollserver_reads_is_documented():
    config_source = (REPO_ROOT / "pollserver" / "config.py").read_text()
    init_source = (REPO_ROOT / "pollserver" / "__init__.py").read_text()
    names = set(re.findall(r'env(?:iron)?\.get\("([A-Z_]+)"', config_source + init_source))
    names |= set(re.findall(r'"((?:RATELIMIT|POLLSERVER)_[A-Z_]+)"', config_source))
    assert len(names) > 15
    undocumented = sorted(name for name in names if f"`{name}`" not in README)
    assert undocumented == []
