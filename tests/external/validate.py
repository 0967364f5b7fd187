"""Validates the artifacts an idpc manifest lists; prints one line per artifact and a summary.

Exit code 0 when every artifact passes, 1 otherwise. Called by tests/external/validate.
"""
import json
import sys
from pathlib import Path

from openapi_spec_validator import OpenAPIV30SpecValidator


def openapi_errors(document):
    try:
        return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
                for e in OpenAPIV30SpecValidator(document).iter_errors()]
    except Exception as exc:  # unresolvable references raise instead of yielding
        return [f"{type(exc).__name__}: {exc}"]


def main(outs):
    passed = failed = 0
    for out in map(Path, outs):
        manifest = json.loads((out / "manifest.json").read_text())
        if not manifest.get("format", "").startswith("idpc-manifest/"):
            print(f"{out}: not an idpc output folder", file=sys.stderr)
            return 2
        for artifact in manifest["artifacts"]:
            path = out / artifact["path"]
            if artifact["kind"] != "openapi":
                continue
            errors = openapi_errors(json.loads(path.read_text()))
            if errors:
                failed += 1
                print(f"FAIL {path}")
                for error in errors:
                    print(f"    {error}")
            else:
                passed += 1
                print(f"ok   {path}")
    print(f"validation: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
