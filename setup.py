"""Build step: copy the schema (supabase/) into the wheel as package data.

The files under ``supabase/`` stay the one source of truth; ``build_py`` copies the ones listed
by :meth:`seer_client._tools.schema.SchemaFiles.files` to ``seer_client/_schema/supabase/`` in the build
directory (never into the source tree), so ``pip install seer-client`` carries the migrations,
the seed and the ``invite`` function. tests/test_packaging.py checks the wheel's copies.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _schema_module():  # type: ignore[no-untyped-def]
    # Load seer_client/_tools/schema.py by path: importing the package would need its dependencies.
    spec = importlib.util.spec_from_file_location(
        "_seer_schema", HERE / "seer_client" / "_tools" / "schema.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class BuildPyWithSchema(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads supabase/ from the checkout itself
        schema = _schema_module()
        files = schema.SchemaFiles(HERE)
        if not files.migrations:
            raise SystemExit("setup.py: no migrations under supabase/migrations; refusing to build")
        dest = Path(self.build_lib) / "seer_client" / "_schema"
        shutil.rmtree(dest, ignore_errors=True)
        schema.export(dest, source=files)


setup(cmdclass={"build_py": BuildPyWithSchema})
