from support import run_pollserver


def test_pollserver_help_lists_its_commands(instance_path):
    result = run_pollserver("--help", instance_path=instance_path)
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("Commands:", 1)[1]
    for name in ("serve", "db"):
        assert f"\n  {name} " in commands


def test_a_database_without_schema_gets_a_message_not_a_traceback(tmp_path):
    result = run_pollserver("polls", "list", instance_path=tmp_path / "empty-instance")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "database error: no such table: polls" in result.stderr
    assert "pollserver db upgrade" in result.stderr
