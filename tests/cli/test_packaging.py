"""The package as pyproject.toml ships it: every Python package of the tree, and the top-level
migrations/ and widget/ folders inside it (so an installed wheel migrates and serves the widget),
with the widget's files built by setup.py's hook. .ci/wheel_smoke.py (run by .ci/run) builds the
wheel, installs it outside the checkout, checks the prebuilt files are what it serves, and starts
it once."""

from __future__ import annotations

import re
import tomllib

from helpers import REPO_ROOT


def pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def setuptools_config() -> dict:
    return pyproject()["tool"]["setuptools"]


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
    # Every migration and every source of the widget's build are among the files shipped.
    versions = {path.name for path in (REPO_ROOT / "migrations" / "versions").glob("*.py")}
    assert versions and "versions/*.py" in data["pollserver.migrations"]
    assert set(data["pollserver.widget"]) == {"*.js", "*.css", "words/*.json"}
    assert (REPO_ROOT / "widget" / "widget.js").is_file()
    assert (REPO_ROOT / "migrations" / "env.py").is_file()


def test_the_widget_is_built_into_the_wheel_with_the_tools_the_server_has_too():
    """setup.py's hook loads pollserver/widget_build.py by its path in the isolated build
    environment, which has the build requirements only; the server rebuilds from a changed
    source with the same tools, so they are runtime dependencies too."""
    config = pyproject()
    names = {
        section: {re.split(r"[<>=\[ ;]", requirement)[0] for requirement in requirements}
        for section, requirements in (
            ("build", config["build-system"]["requires"]),
            ("runtime", config["project"]["dependencies"]),
        )
    }
    assert {"setuptools", "minify-go", "brotli"} <= names["build"]
    assert {"minify-go", "brotli"} <= names["runtime"]
    setup = (REPO_ROOT / "setup.py").read_text()
    assert '"pollserver" / "widget_build.py"' in setup
    assert (REPO_ROOT / "pollserver" / "widget_build.py").is_file()
    assert 'cmdclass={"build_py": BuildPyWithWidget}' in setup
