"""`cookbook-tui validate RECIPE` and `cookbook-tui schema [--markdown]`."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction) -> None:
    validate = sub.add_parser("validate", help="check a recipe without running it")
    validate.add_argument("recipe", help="path to a recipe TOML file")
    validate.set_defaults(handler=_validate)
    schema = sub.add_parser("schema", help="print the recipe format as a JSON Schema (for Taplo and other TOML editors)")
    schema.add_argument("--markdown", action="store_true", help="the README's key reference instead")
    schema.set_defaults(handler=_schema)


def _validate(args: argparse.Namespace) -> int:
    from cookbook_tui.runners.headless import validate_main

    return validate_main(args)


def _schema(args: argparse.Namespace) -> int:
    from cookbook_tui.recipes.reference import main as schema_main

    return schema_main(["--markdown"] if args.markdown else [])
