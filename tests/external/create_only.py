"""Writes (or, with --check, compares) idpc's table of CloudFormation create-only properties.

`idpc diff` warns when a change touches a property that CloudFormation cannot update in place
(the resource is replaced: deleted and created again). The table comes from the resource
provider schemas that the pinned cfn-lint ships, for every type in the regions below.

Usage (with the cfn-lint virtualenv that tests/external/validate installs):
  .venv-validate/tools/bin/python tests/external/create_only.py [--check] compiler/src/review/cfn-create-only.json
"""
import json
import sys

from importlib.metadata import version
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

REGIONS = ["us-east-1", "eu-central-1", "eu-west-1", "eu-north-1"]


def table():
    types = {}
    for region in REGIONS:
        for name in PROVIDER_SCHEMA_MANAGER.get_resource_types(region):
            if name in types or not name.startswith("AWS::"):
                continue
            try:
                schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, name).schema
            except Exception:  # a type cfn-lint lists but has no schema for
                continue
            paths = sorted(p.removeprefix("/properties/") for p in schema.get("createOnlyProperties", []))
            types[name] = paths
    return {
        "source": f"createOnlyProperties of the CloudFormation resource schemas in cfn-lint {version('cfn-lint')} ({', '.join(REGIONS)})",
        "types": dict(sorted(types.items())),
    }


def render(data):
    # One type per line: small diffs when the pin moves.
    lines = [f'{{\n  "source": {json.dumps(data["source"])},\n  "types": {{']
    entries = [f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in data["types"].items()]
    lines.append(",\n".join(entries))
    lines.append("  }\n}\n")
    return "\n".join(lines)


def main():
    args = sys.argv[1:]
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    if len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    text = render(table())
    if check:
        with open(paths[0], encoding="utf-8") as f:
            if f.read() != text:
                print(f"{paths[0]} is not what cfn-lint {version('cfn-lint')}'s schemas give; regenerate it", file=sys.stderr)
                return 1
        print(f"create-only table: up to date ({len(json.loads(text)['types'])} types)")
        return 0
    with open(paths[0], "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
