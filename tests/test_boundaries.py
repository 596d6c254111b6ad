"""Boundaries of the package: what imports what, and who reads the environment."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

from shopbot.errors import ConfigurationError
from shopbot.settings import Settings

PACKAGE = pathlib.Path(__file__).parent.parent / "shopbot"


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_engine_loads_no_web_framework() -> None:
    code = "import sys, shopbot.engine; assert 'litestar' not in sys.modules, 'litestar loaded'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_importing_shopbot_reads_nothing_and_starts_nothing() -> None:
    code = "import os, sys; os.environ.clear(); import shopbot; assert list(sys.modules).count('shopbot') == 1"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_only_settings_reads_the_environment() -> None:
    readers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "os.environ" in path.read_text() or "getenv" in path.read_text()
    }
    assert readers <= {"settings.py"}


def test_the_reference_shop_is_independent_of_the_client() -> None:
    for path in (PACKAGE / "shop").rglob("*.py"):
        assert not any(name.startswith("shopbot.storefront") for name in imported_modules(path)), path


@pytest.mark.parametrize("module", ["engine", "tools", "storefront", "sessions"])
def test_the_core_knows_no_web_framework(module: str) -> None:
    for path in (PACKAGE / module).rglob("*.py"):
        assert not any(name.split(".")[0] == "litestar" for name in imported_modules(path)), path


def test_only_the_adapters_know_botocore_and_httpx() -> None:
    allowed = {"botocore": {"engine/bedrock.py"}, "aioboto3": {"engine/bedrock.py"}}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        for name in imported_modules(path):
            root = name.split(".")[0]
            if root in allowed:
                assert relative in allowed[root], f"{relative} imports {name}"


def test_settings_come_from_the_seeds_variables() -> None:
    settings = Settings.from_env(
        {
            "AWS_REGION": "eu-west-1",
            "BEDROCK_MODEL_ID": "us.amazon.nova-lite-v1:0",
            "BEDROCK_TEMPERATURE": "0.2",
            "BEDROCK_MAX_TOKENS": "512",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:9101",
            "BACKEND_API_URL": "http://shop",
            "BACKEND_API_KEY": "secret",
            "SHOPBOT_MAX_TOOL_ROUNDS": "3",
            "BEDROCK_GREEDY_DECODING": "false",
        }
    )
    assert (settings.aws_region, settings.bedrock_model_id) == ("eu-west-1", "us.amazon.nova-lite-v1:0")
    assert (settings.bedrock_temperature, settings.bedrock_max_tokens) == (0.2, 512)
    assert settings.bedrock_endpoint_url == "http://127.0.0.1:9101"
    assert (settings.backend_api_url, settings.backend_api_key) == ("http://shop", "secret")
    assert settings.max_tool_rounds == 3 and settings.bedrock_greedy_decoding is False
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("BEDROCK_TEMPERATURE", "1.5"), ("BEDROCK_MAX_TOKENS", "lots"), ("SHOPBOT_MAX_TOOL_ROUNDS", "0")],
)
def test_a_bad_setting_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({variable: value})


def test_env_example_lists_every_setting() -> None:
    import msgspec

    from shopbot.settings import env_name

    example = (PACKAGE.parent / ".env.example").read_text()
    for field in msgspec.structs.fields(Settings):
        assert f"{env_name(field.name)}=" in example, field.name


def test_the_web_layer_is_wiring_only() -> None:
    for path in (PACKAGE / "web").rglob("*.py"):
        roots = {name.split(".")[0] for name in imported_modules(path)}
        assert not roots & {"aioboto3", "botocore", "httpx", "redis"}, path


def test_cost_estimates_are_decimal_and_follow_the_price_table() -> None:
    from decimal import Decimal

    from shopbot.messages import Usage
    from shopbot.pricing import ModelPrice, Pricing

    pricing = Pricing({"us.amazon.nova-pro-v1:0": ModelPrice(Decimal("0.001"), Decimal("0.004"))})
    usage = Usage(input_tokens=2000, output_tokens=500, cache_read_tokens=4000)
    assert pricing.cost("us.amazon.nova-pro-v1:0", usage) == Decimal("0.005000")  # the longest key wins
    assert pricing.cost("us.amazon.nova-lite-v1:0", usage) == Decimal("0.000300")  # 0.12 + 0.12 + 0.06 (cached at 1/4)
    assert pricing.cost("offline", usage) is None
