import pytest

from tenken.core.errors import InputError
from tenken.core.registry import Registry


def test_register_get_and_list():
    reg: Registry[type] = Registry("thing")

    @reg.register("a", "alias-a")
    class A: ...

    assert reg.get("a") is A and reg.get("alias-a") is A
    assert reg.names() == ["a", "alias-a"] and "a" in reg and len(reg) == 2
    with pytest.raises(InputError, match="unknown thing 'b'; choose one of: a, alias-a"):
        reg.get("b")


def test_a_name_taken_twice_is_a_bug():
    reg: Registry[object] = Registry("thing")
    reg.register("x")(1)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("x")(2)


def test_modules_are_imported_on_first_lookup():
    reg: Registry[object] = Registry("thing", modules=("json",))
    assert reg.names() == []  # json registers nothing, but the import ran without error
