"""Every hook is documented in docs/plugins.md with an example that runs."""

import pathlib
import re
import types

import pytest
from diffblocks import Registry, use_registry
from diffblocks._plugins._hookspecs import HOOK_NAMES, DiffblocksSpecs

DOC = pathlib.Path(__file__).parent.parent / "docs" / "plugins.md"


def sections():
    text = DOC.read_text()
    parts = re.split(r"^#{2,3} (.+)\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_hook_list_matches_the_specs():
    specs = {n for n in vars(DiffblocksSpecs) if not n.startswith("_")}
    assert specs == set(HOOK_NAMES)


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_each_hook_has_a_section_with_a_runnable_example(hook):
    body = sections().get(hook)
    assert body is not None, f"docs/plugins.md has no '### {hook}' section"
    (code,) = re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)
    module = types.ModuleType(f"doc_example_{hook}")
    exec(compile(code, f"docs/plugins.md#{hook}", "exec"), module.__dict__)
    assert hasattr(module, hook), f"the {hook} example does not define {hook}"
    with use_registry(Registry(autoload=False)) as registry:
        info = registry.add_plugin(module, name=f"doc-{hook}")
        assert info.status == "loaded"
