"""The type stub `_native.pyi` says what the native module has: every class,
constant, method, static method and property, each of the kind the stub
gives it, and nothing the module has is missing from the stub."""

import ast
import inspect
from pathlib import Path

import shm_exchange
from shm_exchange import _native

STUB = Path(shm_exchange.__file__).with_name("_native.pyi")


def stub_members() -> dict[str, dict[str, str]]:
    """{class or "": {name: "property" | "staticmethod" | "method" | "constant" | "class"}}"""
    members: dict[str, dict[str, str]] = {"": {}}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            members[""][node.target.id] = "constant"
        elif isinstance(node, ast.ClassDef):
            members[""][node.name] = "class"
            kinds = members.setdefault(node.name, {})
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    decorators = {d.id for d in item.decorator_list if isinstance(d, ast.Name)}
                    kinds[item.name] = (
                        "property" if "property" in decorators
                        else "staticmethod" if "staticmethod" in decorators
                        else "method"
                    )
    return members


def runtime_kind(owner: object, name: str) -> str:
    attr = inspect.getattr_static(owner, name)
    if isinstance(owner, type):
        if isinstance(attr, staticmethod):
            return "staticmethod"
        if inspect.isdatadescriptor(attr):
            return "property"
        if inspect.ismethoddescriptor(attr) or inspect.isfunction(attr):
            return "method"
        return f"something else ({type(attr).__name__})"
    return "class" if isinstance(attr, type) else "constant"


def public_names(owner: object) -> set[str]:
    if isinstance(owner, type):
        return {n for n in vars(owner) if not n.startswith("_")}
    return {n for n in vars(owner) if not n.startswith("_")}


def test_the_stub_matches_the_native_module() -> None:
    stub = stub_members()
    problems = []
    for owner_name, kinds in stub.items():
        owner = _native if owner_name == "" else getattr(_native, owner_name, None)
        if owner is None:
            problems.append(f"class {owner_name} is in the stub, not in the module")
            continue
        for name, kind in kinds.items():
            if not hasattr(owner, name):
                problems.append(f"{owner_name or '_native'}.{name}: in the stub, not in the module")
            elif (actual := runtime_kind(owner, name)) != kind:
                problems.append(f"{owner_name or '_native'}.{name}: a {kind} in the stub, a {actual} in the module")
        for name in sorted(public_names(owner) - set(kinds)):
            problems.append(f"{owner_name or '_native'}.{name}: in the module, not in the stub")
    assert not problems, "\n".join(problems)
