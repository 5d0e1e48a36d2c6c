"""ES modules joined into one classic script: what is understood, what is refused."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from captioncast.web.script_bundle import BundleError, bundle, parse_module

NODE = shutil.which("node")

MODULES = {
    "lib/index.js": (
        "export { greet, Greeter as Host } from './greet.js';\n"
        "import {\n  shout,\n  quiet as hush,\n} from './util/shout.js';\n"
        "export const loud = (s) => shout(s) + hush('');\n"
    ),
    "lib/greet.js": (
        "import { shout } from './util/shout.js';\n"
        "const secret = 'hello';\n"
        "export function greet(name) { return `${secret} ${name}`; }\n"
        "export class Greeter { hi() { return shout(greet('you')); } }\n"
        "export async function later() { return import('./lazy.js'); }\n"
    ),
    "lib/util/shout.js": (
        "const secret = '!';  // the same name as greet.js's: modules keep their scopes\n"
        "function shout(s) { return s.toUpperCase() + secret; }\n"
        "function quiet(s) { return s; }\n"
        "export { shout, quiet };\n"
    ),
}


def run(script: str, expression: str) -> str:
    if NODE is None:
        pytest.skip("node is not installed (scripts/setup installs it)")
    program = (
        "const vm = require('vm'); const ctx = {}; vm.createContext(ctx);"
        "vm.runInContext(require('fs').readFileSync(0, 'utf8'), ctx);"
        f"process.stdout.write(String(vm.runInContext({expression!r}, ctx)))"
    )
    out = subprocess.run(
        [NODE, "-e", program], input=script, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_modules_become_one_script_with_the_entry_exports_as_globals() -> None:
    script = bundle(MODULES.__getitem__, "lib/index.js", {"lib": None, "greet": "greet"}, "/* b */")
    assert script.startswith("/* b */\n")
    assert script.index("// lib/util/shout.js") < script.index("// lib/greet.js")
    result = run(script, "[greet('x'), new lib.Host().hi(), lib.loud('a'), Object.keys(lib)]")
    assert result == "hello x,HELLO YOU!,A!,greet,Host,loud"


def test_imports_are_read_once_and_exports_listed() -> None:
    reads: list[str] = []

    def read(module_id: str) -> str:
        reads.append(module_id)
        return MODULES[module_id]

    bundle(read, "lib/index.js", {"lib": None})
    assert sorted(reads) == sorted(MODULES)
    module = parse_module("lib/greet.js", MODULES["lib/greet.js"])
    assert [name for name, _, _ in module.exports] == ["greet", "Greeter", "later"]
    assert module.imports == [("lib/util/shout.js", [("shout", "shout")])]


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("export default 1;\n", "unsupported module syntax"),
        ("import * as all from './a.js';\n", "unsupported module syntax"),
        ("import './side-effect.js';\n", "unsupported module syntax"),
        ("const here = import.meta.url;\n", "unsupported module syntax"),
        ("import { a } from 'bare';\n", "only relative imports"),
        ("import { a } from '../../../outside.js';\n", "outside the bundle's root"),
        ("import { a-b } from './a.js';\n", "cannot bundle the import"),
    ],
)
def test_what_cannot_be_bundled_is_refused(source: str, words: str) -> None:
    with pytest.raises(BundleError, match=words):
        parse_module("lib/x.js", source)


def test_cycles_and_missing_exports_are_refused() -> None:
    cycle = {"a.js": "import { b } from './b.js';\n", "b.js": "import { a } from './a.js';\n"}
    with pytest.raises(BundleError, match="import cycle: a.js -> b.js -> a.js"):
        bundle(cycle.__getitem__, "a.js", {})
    with pytest.raises(BundleError, match="does not export nope"):
        bundle(MODULES.__getitem__, "lib/index.js", {"x": "nope"})
