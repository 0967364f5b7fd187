"""Validates every artifact that idpc manifests list, with external validators.

OpenAPI documents against the OpenAPI 3.0 schema; CloudFormation templates with cfn-lint (any
error, warning or informational finding fails) and checkov (any failed check fails; skips need a written reason in
the resource's Metadata); Datadog payloads against Datadog's v1 API schema. Prints one line
per artifact and checker, and a closing `validation: N passed, N failed` line. Exit code 0
when everything passes, 1 otherwise, 2 on usage errors. Called by tests/external/validate.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml
from openapi_schema_validator import OAS30WriteValidator
from openapi_spec_validator import OpenAPIV30SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

DATADOG_SCHEMAS = {
    "datadog-monitor": "Monitor",
    "datadog-slo": "ServiceLevelObjectiveRequest",
    "datadog-dashboard": "Dashboard",
}


def openapi_errors(document):
    try:
        return [f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
                for e in OpenAPIV30SpecValidator(document).iter_errors()]
    except Exception as exc:  # unresolvable references raise instead of yielding
        return [f"{type(exc).__name__}: {exc}"]


def cfn_lint_errors(cfn_lint, paths):
    if not paths:
        return {}
    run = subprocess.run([cfn_lint, "--format", "json", "--include-checks", "I", "--", *map(str, paths)],
                         capture_output=True, text=True)
    if run.returncode not in (0, 2, 4, 6, 8, 10, 12, 14):
        raise SystemExit(f"cfn-lint failed to run: {run.stderr}")
    findings = {}
    for finding in json.loads(run.stdout or "[]"):
        if finding["Level"] in ("Error", "Warning", "Informational"):
            where = finding["Location"]["Path"]
            findings.setdefault(str(Path(finding["Filename"]).resolve()), []).append(
                f"{finding['Rule']['Id']} {finding['Message']} at {'/'.join(map(str, where))}")
    return findings


def checkov_failures(checkov, paths):
    if not paths:
        return {}
    args = [checkov, "--framework", "cloudformation", "--skip-download", "-o", "json", "--quiet"]
    for path in paths:
        args += ["-f", str(path)]
    run = subprocess.run(args, capture_output=True, text=True)
    if run.returncode not in (0, 1):
        raise SystemExit(f"checkov failed to run: {run.stderr[-2000:]}")
    failures = {}
    reports = json.loads(run.stdout or "[]")
    for report in reports if isinstance(reports, list) else [reports]:
        for check in report.get("results", {}).get("failed_checks", []):
            failures.setdefault(str(Path(check["file_abs_path"]).resolve()), []).append(
                f"{check['check_id']} {check['check_name']} on {check['resource']}")
    return failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfn-lint", required=True)
    parser.add_argument("--checkov", required=True)
    parser.add_argument("--datadog-spec", required=True)
    parser.add_argument("outs", nargs="+")
    args = parser.parse_args()

    spec = yaml.safe_load(Path(args.datadog_spec).read_text())
    registry = Registry().with_resource("urn:dd", Resource.from_contents(spec, default_specification=DRAFT4))

    artifacts = []
    for out in map(Path, args.outs):
        manifest = json.loads((out / "manifest.json").read_text())
        if not manifest.get("format", "").startswith("idpc-manifest/"):
            print(f"{out}: not an idpc output folder", file=sys.stderr)
            return 2
        artifacts += [(a["kind"], (out / a["path"]).resolve()) for a in manifest["artifacts"]]

    templates = [path for kind, path in artifacts if kind == "cloudformation"]
    lint = cfn_lint_errors(args.cfn_lint, templates)
    scan = checkov_failures(args.checkov, templates)

    passed = failed = 0
    for kind, path in artifacts:
        checks = []
        if kind in ("openapi", "openapi-template"):
            checks.append(("openapi-spec-validator", openapi_errors(json.loads(path.read_text()))))
        elif kind == "cloudformation":
            checks.append(("cfn-lint", lint.get(str(path), [])))
            checks.append(("checkov", scan.get(str(path), [])))
        elif kind in DATADOG_SCHEMAS:
            validator = OAS30WriteValidator({"$ref": f"urn:dd#/components/schemas/{DATADOG_SCHEMAS[kind]}"},
                                            registry=registry)
            errors = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                      for e in validator.iter_errors(json.loads(path.read_text()))]
            checks.append(("datadog-v1-schema", errors))
        else:
            checks.append(("known kind", [f"unknown artifact kind {kind}"]))
        for checker, errors in checks:
            if errors:
                failed += 1
                print(f"FAIL {checker:<22} {path}")
                for error in errors:
                    print(f"       {error}")
            else:
                passed += 1
                print(f"ok   {checker:<22} {path}")
    print(f"validation: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
