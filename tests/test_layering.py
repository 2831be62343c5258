"""The pure core imports without IPython, ipywidgets, tornado or jupyter_server."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CORE = ["jupyter_lifecycle", "jupyter_lifecycle.store", "jupyter_lifecycle.tracking", "jupyter_lifecycle.models"]
OPTIONAL_CORE = ["jupyter_lifecycle.registry", "jupyter_lifecycle.pyfunc", "jupyter_lifecycle.sklearn"]


def test_core_imports_with_jupyter_parts_unimportable() -> None:
    code = textwrap.dedent(
        f"""
        import importlib.util, sys

        class Block:
            blocked = ("IPython", "ipywidgets", "ipykernel", "tornado", "jupyter_server")
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in self.blocked:
                    raise ImportError(f"{{name}} is blocked: the core must not import it")
                return None

        sys.meta_path.insert(0, Block())
        import jupyter_lifecycle as lc
        for name in {CORE!r}:
            importlib.import_module(name)
        for name in {OPTIONAL_CORE!r}:
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        lc.set_store(sys.argv[1])
        with lc.start_run():
            lc.log_metric("m", 1.0)
        assert len(lc.search_runs()) == 1
        print("core ok")
        """
    )
    import tempfile

    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run([sys.executable, "-c", code, home], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "core ok"
