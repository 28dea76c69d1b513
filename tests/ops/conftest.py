"""Makes ``tests/ops/reference.py`` importable as ``ivit_ops_reference``.

The tests tree has no ``__init__.py`` files, so a plain ``import reference``
would clash with any other test folder that one day grows a module of the
same name. Loading it by path under a unique name avoids that.
"""

import importlib.util
import sys
from pathlib import Path

_NAME = "ivit_ops_reference"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("reference.py"))
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)
