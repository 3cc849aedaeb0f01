"""The package as pyproject.toml ships it: every Python package of the tree, and the top-level
migrations/ and widget/ folders inside it (so an installed wheel migrates and serves the widget).
.ci/run builds the wheel, installs it outside the checkout and starts it once."""

from __future__ import annotations

import tomllib

from helpers import REPO_ROOT


def setuptools_config() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_in_the_tree_is_shipped():
    packages_in_tree = {
        ".".join(init.parent.relative_to(REPO_ROOT).parts)
        for init in (REPO_ROOT / "pollserver").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    shipped = set(setuptools_config()["packages"])
    assert packages_in_tree <= shipped, packages_in_tree - shipped
    assert shipped - packages_in_tree == {"pollserver.migrations", "pollserver.widget"}


def test_migrations_and_the_widget_are_mapped_from_the_top_of_the_checkout():
    config = setuptools_config()
    mapped = config["package-dir"]
    assert mapped == {"pollserver.migrations": "migrations", "pollserver.widget": "widget"}
    data = config["package-data"]
    for package, patterns in data.items():
        folder = REPO_ROOT / mapped.get(package, package.replace(".", "/"))
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"{package}: {pattern} matches no file"
    # Every migration and the widget itself are among the files shipped.
    versions = {path.name for path in (REPO_ROOT / "migrations" / "versions").glob("*.py")}
    assert versions and "versions/*.py" in data["pollserver.migrations"]
    assert (REPO_ROOT / "widget" / "widget.js").is_file()
    assert (REPO_ROOT / "migrations" / "env.py").is_file()
