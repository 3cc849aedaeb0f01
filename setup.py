"""setuptools hook (pyproject.toml holds everything else): a wheel carries the widget's files
built, minified and precompressed (pollserver/widget/dist/), so the server has nothing to build.

pollserver.widget_build is loaded by its file path: in the isolated build environment only the
build requirements (setuptools, minify-go, brotli) are importable, not pollserver's own.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUILD_MODULE = Path(__file__).resolve().parent / "pollserver" / "widget_build.py"


def load_widget_build():
    spec = importlib.util.spec_from_file_location("pollserver_widget_build", BUILD_MODULE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


class BuildPyWithWidget(build_py):
    """Copies the package as usual, then builds the widget from the copied sources, so the
    manifest's source hash is that of exactly what the wheel ships."""

    def run(self) -> None:
        super().run()
        self.widget_outputs: list[str] = []
        if self.editable_mode:
            return  # an editable install serves the checkout's sources, built in memory
        widget_build = load_widget_build()
        shipped = Path(self.build_lib) / "pollserver" / "widget"
        built = widget_build.build_widget(shipped)
        written = widget_build.write_build(built, shipped / widget_build.DIST_FOLDER)
        self.widget_outputs = [str(path) for path in written]
        sizes = ", ".join(
            f"{file.name} {len(file.body)} B, gzip {len(file.gzip)} B, brotli {len(file.brotli)} B"
            for file in built.files
        )
        print(f"built the widget's files: {sizes}")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), *getattr(self, "widget_outputs", [])]


setup(cmdclass={"build_py": BuildPyWithWidget})
