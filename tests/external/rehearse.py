"""Deploy rehearsal: every stack of idpc output folders created in moto, in wave order, in the
account and region its manifest names, with the manifest's tags.

    rehearse.py OUT [OUT...]        rehearse each output folder (each in a fresh moto)
    rehearse.py --self-test OUT     also show that a dangling import, a stack deployed out of
                                    wave order and a kept resource with a fixed name fail

A moto server runs on 127.0.0.1 (a free port) inside this process and stops with it. Requests
carry `x-moto-account-id`, so every stack lands in its own account; a requested account gets the
id the organisation stack's outputs give it.

moto lacks CloudFormation models for some types; a stand-in (below) takes their resolved
properties and answers Ref and Fn::GetAtt, so intrinsics, conditions, exports, imports and
ordering are still exercised. A stand-in validates nothing of its own type, except the checks
each one names: what AWS requires to exist before it (a recorder before a delivery channel, a
domain before its mappings, a hosted zone before a record or a certificate validated in it, one
domain name per region).

What the rehearsal sets up first, as an estate's owner would before deploying (the
preconditions idpc documents): the artifact buckets the stacks read code from, the hosted zones
written as ids (`hosted-zone=`), and the backend Lambda functions (with their aliases) of every
API stage, in the stage's account and region, just before the stage's stack.
"""

import hashlib
import io
import json
import logging
import re
import socket
import sys
import urllib.request
import warnings
import zipfile
from pathlib import Path

import boto3
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException, ValidationError
from moto.core.common_models import CloudFormationModel
from moto.apigateway.models import RestAPI, apigateway_backends
from moto.server import ThreadedMotoServer

# --- stand-ins -------------------------------------------------------------------------------

# What stand-ins have created, per (account, region): the facts later resources check.
CREATED: dict[tuple[str, str, str], dict[str, dict]] = {}

STOOD_IN = []


def created(kind: str, account: str, region: str) -> dict[str, dict]:
    return CREATED.setdefault((kind, account, region), {})


def fake_id(*parts: str, digits: int = 12) -> str:
    return str(int(hashlib.sha256("/".join(parts).encode()).hexdigest(), 16))[:digits]


def stand_in(type_name: str, ref, attributes: dict, check=None, record=None):
    """A CloudFormation model for `type_name`: `ref(name, props, account, region)` is its Ref,
    `attributes` its GetAtt values (functions of the instance), `check` raises what AWS would
    refuse, `record` notes what it created for later checks."""

    class StandIn(CloudFormationModel):
        # moto's model metaclass names a model's service after its module's second part.
        __module__ = "rehearsal.stand_in"

        def __init__(self, name, props, account_id, region_name):
            self.name, self.props, self.account_id, self.region_name = name, props, account_id, region_name

        @staticmethod
        def cloudformation_type():
            return type_name

        @staticmethod
        def cloudformation_name_type():
            return ""

        @classmethod
        def has_cfn_attr(cls, attr):
            return attr in attributes

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            props = cloudformation_json.get("Properties", {})
            if check:
                check(props, account_id, region_name)
            instance = cls(resource_name, props, account_id, region_name)
            if record:
                record(instance)
            return instance

        @property
        def physical_resource_id(self):
            return ref(self.name, self.props, self.account_id, self.region_name)

        def get_cfn_attribute(self, attribute_name):
            if attribute_name not in attributes:
                raise UnformattedGetAttTemplateException()
            return attributes[attribute_name](self)

        def is_created(self):
            return True

        def delete(self, account_id, region_name):
            # Deleted, it no longer counts for later checks (one domain name per region...).
            for facts in CREATED.values():
                for key in [k for k, v in facts.items() if v is self.props]:
                    del facts[key]

    StandIn.__name__ = "StandIn" + type_name.replace("::", "")
    parsing.get_model_map()[type_name] = StandIn
    parsing.get_name_type_map()[type_name] = ""
    STOOD_IN.append(type_name)
    return StandIn


def require(condition: bool, message: str):
    """Refuses the resource, as AWS would (the stack's creation fails with this message)."""
    if not condition:
        raise ValidationError(message="refused: " + message)


def register_stand_ins():
    arn = lambda service, path: lambda name, props, account, region: f"arn:aws:{service}:{region}:{account}:{path}{name}"

    # AWS Organizations: the requested account's id is what idpc's manifest leaves open.
    stand_in(
        "AWS::Organizations::Account",
        lambda name, props, account, region: fake_id("account", props["AccountName"]),
        {"AccountId": lambda self: fake_id("account", self.props["AccountName"]),
         "Arn": lambda self: f"arn:aws:organizations::{self.account_id}:account/o-rehearsal/{fake_id('account', self.props['AccountName'])}"},
    )

    def certificate_check(props, account, region):
        for option in props.get("DomainValidationOptions", []):
            zone = option.get("HostedZoneId")
            if zone:
                require(zone_exists(account, zone), f"DNS validation in hosted zone {zone}, which account {account} does not have")

    stand_in(
        "AWS::CertificateManager::Certificate",
        lambda name, props, account, region: f"arn:aws:acm:{region}:{account}:certificate/{fake_id(name, account, region, digits=20)}",
        {},
        check=certificate_check,
    )

    def domain_check(props, account, region):
        name = props["DomainName"]
        require(all(name not in created("domain", other, region) for (kind, other, r) in list(CREATED) if kind == "domain" and r == region),
                f"custom domain {name} already exists in {region}")
        certificate = props.get("RegionalCertificateArn", "")
        require(f":{region}:{account}:" in certificate, f"certificate {certificate} is not of account {account} in {region}")
        mtls = props.get("MutualTlsAuthentication")
        if mtls:
            require(props.get("SecurityPolicy") == "TLS_1_2", "mutual TLS needs the TLS_1_2 security policy")

    stand_in(
        "AWS::ApiGateway::DomainName",
        lambda name, props, account, region: props["DomainName"],
        {"RegionalDomainName": lambda self: f"d-{fake_id(self.props['DomainName'], digits=10)}.execute-api.{self.region_name}.amazonaws.com",
         "RegionalHostedZoneId": lambda self: "Z2FDTNDATAQYW2",
         "DistributionDomainName": lambda self: ""},
        check=domain_check,
        record=lambda self: created("domain", self.account_id, self.region_name).update({self.props["DomainName"]: self.props}),
    )

    def mapping_check(props, account, region):
        domain = props["DomainName"]
        require(domain in created("domain", account, region), f"custom domain {domain} does not exist in account {account}, {region}")
        api = props.get("RestApiId") or props.get("ApiId")
        require(api in apigateway_backends[account][region].apis, f"REST API {api} does not exist in account {account}, {region}")
        path = props.get("BasePath") or props.get("ApiMappingKey") or "(none)"
        mappings = created("mapping", account, region)
        require((domain, path) not in mappings, f"{domain} already maps {path}")
        mappings[(domain, path)] = props

    stand_in("AWS::ApiGateway::BasePathMapping", lambda name, props, account, region: name, {}, check=mapping_check)
    stand_in("AWS::ApiGatewayV2::ApiMapping", lambda name, props, account, region: fake_id(name, digits=6), {}, check=mapping_check)

    def stage_check(props, account, region):
        require(props["RestApiId"] in apigateway_backends[account][region].apis, "the stage's REST API does not exist")

    stand_in("AWS::ApiGateway::Stage", lambda name, props, account, region: props["StageName"], {}, check=stage_check)
    stand_in("AWS::ApiGateway::Account", lambda name, props, account, region: f"{account}-apigateway", {})
    stand_in("AWS::Budgets::Budget", lambda name, props, account, region: props["Budget"].get("BudgetName", name), {})
    stand_in("AWS::CloudTrail::Trail", lambda name, props, account, region: props.get("TrailName", name),
             {"Arn": lambda self: f"arn:aws:cloudtrail:{self.region_name}:{self.account_id}:trail/{self.props.get('TrailName', self.name)}",
              "SnsTopicArn": lambda self: ""})
    stand_in("AWS::Config::ConfigurationRecorder", lambda name, props, account, region: props.get("Name", "default"), {},
             record=lambda self: created("recorder", self.account_id, self.region_name).update({"default": self.props}))

    def channel_check(props, account, region):
        # AWS Config: PutDeliveryChannel needs an existing configuration recorder.
        require(created("recorder", account, region), f"no configuration recorder in account {account}, {region}")

    stand_in("AWS::Config::DeliveryChannel", lambda name, props, account, region: props.get("Name", "default"), {},
             check=channel_check,
             record=lambda self: created("channel", self.account_id, self.region_name).update({"default": self.props}))

    def rule_check(props, account, region):
        # AWS Config: PutConfigRule needs a recorder (rules evaluate what it records).
        require(created("recorder", account, region), f"no configuration recorder in account {account}, {region}")

    stand_in("AWS::Config::ConfigRule", lambda name, props, account, region: props.get("ConfigRuleName", name),
             {"Arn": lambda self: f"arn:aws:config:{self.region_name}:{self.account_id}:config-rule/{self.name}",
              "ConfigRuleId": lambda self: fake_id(self.name, digits=8),
              "Compliance.Type": lambda self: "COMPLIANT"},
             check=rule_check)
    stand_in("AWS::GuardDuty::Detector", lambda name, props, account, region: fake_id("detector", account, region, digits=32), {})
    stand_in("AWS::S3::BucketPolicy", lambda name, props, account, region: name, {})
    stand_in("AWS::SNS::TopicPolicy", lambda name, props, account, region: name, {"Id": lambda self: self.name})

    class RehearsedRestApi(RestAPI):
        """moto's RestApi model reads Name only: this one also imports the resolved Body with
        moto's own API Gateway import (OpenAPI validated, resources and methods built), so that
        a Deployment finds its methods."""

        __module__ = "rehearsal.apigateway"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
            api = super().create_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name, **kwargs)
            body = cloudformation_json["Properties"].get("Body")
            if body is not None:
                apigateway_backends[account_id][region_name].put_rest_api(api.id, body, fail_on_warnings=True, mode="overwrite")
            return api

    parsing.get_model_map()["AWS::ApiGateway::RestApi"] = RehearsedRestApi


def zone_exists(account: str, zone: str) -> bool:
    return zone in route53_backends_of(account).zones


def route53_backends_of(account: str):
    from moto.route53.models import route53_backends

    return route53_backends[account]["global"]


# --- preconditions ---------------------------------------------------------------------------

def client(service: str, endpoint: str, account: str, region: str):
    c = boto3.client(service, region_name=region, endpoint_url=endpoint,
                     aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal")
    c.meta.events.register("before-send.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
    return c


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    return buffer.getvalue()


def walk(value):
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def prepare_account(endpoint: str, account: str, region: str, templates: list[dict], done: set):
    """Artifact buckets the stacks read code from, and hosted zones written as ids."""
    for template in templates:
        for node in walk(template):
            code = node.get("Code") if isinstance(node.get("Code"), dict) else None
            if code and isinstance(code.get("S3Bucket"), str) and ("object", code["S3Bucket"], code["S3Key"]) not in done:
                # One artifact bucket for every account, as a platform keeps it (moto, like S3,
                # lets another account read it).
                s3 = client("s3", endpoint, account, region)
                if ("bucket", code["S3Bucket"]) not in done:
                    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
                    s3.create_bucket(Bucket=code["S3Bucket"], **config)
                    done.add(("bucket", code["S3Bucket"]))
                s3.put_object(Bucket=code["S3Bucket"], Key=code["S3Key"], Body=zip_bytes())
                done.add(("object", code["S3Bucket"], code["S3Key"]))
            zone = node.get("HostedZoneId")
            if isinstance(zone, str) and not zone_exists(account, zone) and (account, zone) not in done:
                # A zone with the id written in the estate (moto picks ids itself: move it).
                backend = route53_backends_of(account)
                name = node.get("Name") or node.get("DomainName") or f"{zone.lower()}.example"
                made = backend.create_hosted_zone(name, comment="rehearsal: the zone the estate names", private_zone=False)
                key = next(k for k, v in backend.zones.items() if v is made)
                backend.zones[zone] = backend.zones.pop(key)
                made.resource_id = zone
                done.add((account, zone))


FUNCTION = re.compile(r"function:([A-Za-z0-9_-]+)(?::([A-Za-z0-9_$-]+))?$")


def prepare_backends(endpoint: str, account: str, region: str, template: dict, done: set):
    """The backend functions (and aliases) a stage's stack grants API Gateway access to: the
    service team's pipeline deploys them before the stage."""
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Permission":
            continue
        name = resource["Properties"]["FunctionName"]
        if isinstance(name, dict):
            name = name.get("Fn::Sub", "")
        if not isinstance(name, str) or "function:" not in name:
            continue  # a function of the same stack (Ref or GetAtt)
        match = FUNCTION.search(name)
        if not match:
            continue
        function, alias = match.groups()
        if (account, region, function, alias) in done:
            continue
        iam = client("iam", endpoint, account, region)
        role = f"rehearsal-backend-{function}"
        if (account, role) not in done:
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
            done.add((account, role))
        lam = client("lambda", endpoint, account, region)
        if (account, region, function) not in done:
            lam.create_function(FunctionName=function, Runtime="provided.al2023", Handler="bootstrap",
                                Role=f"arn:aws:iam::{account}:role/{role}", Code={"ZipFile": zip_bytes()})
            done.add((account, region, function))
        if alias:
            version = lam.publish_version(FunctionName=function)["Version"]
            lam.create_alias(FunctionName=function, Name=alias, FunctionVersion=version)
        done.add((account, region, function, alias))


# --- the rehearsal ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# CloudFormation keeps a `RetainExceptOnCreate` resource when its stack is deleted (it deletes it
# only when the create that made it rolls back); moto knows `Retain` alone. While this is set,
# a stack deletion keeps both, as a deletion in AWS does.
KEEP_ON_DELETE = {"on": False}


def keep_retained_on_delete():
    original = parsing.ResourceMap.delete

    def delete(self):
        if KEEP_ON_DELETE["on"]:
            for resource in self._resource_json_map.values():
                if resource.get("DeletionPolicy") == "RetainExceptOnCreate":
                    resource["DeletionPolicy"] = "Retain"
        original(self)

    parsing.ResourceMap.delete = delete


def service_errors_fail_the_stack():
    """A service's refusal inside a stack's create (a log group that already exists) reaches
    the caller in AWS as the stack's failure reason; moto's CloudFormation answers it with a
    body boto3 cannot parse. Turned into the ValidationError it can, with the service's words."""
    from moto.core.exceptions import JsonRESTError

    original = parsing.parse_and_create_resource

    def create(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except JsonRESTError as error:
            raise ValidationError(message=f"{error.error_type}: {error.message}") from error

    parsing.parse_and_create_resource = create


def rehearse(out: Path, stacks_order=None, edit=None, recreate=False) -> list[tuple]:
    """Creates every stack of `out`; returns (wave, stack, account, region, result) rows. With
    `recreate`, then deletes every stack but the organisation's, last wave first, and creates
    them again in wave order (an ephemeral environment that comes back, an account stack
    deployed anew): what a deleted stack kept must not stop its next create. The rows of that
    second create follow, marked `again`."""
    CREATED.clear()
    port = free_port()
    # The server's access log (werkzeug's) would bury the table in request lines.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # Every rehearsal starts from empty accounts (moto's backends outlive a server).
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    rows = []
    ids: dict[str, str] = {}
    done: set = set()

    def create(stack) -> str:
        template = json.loads((out / stack["template"]).read_text())
        if edit:
            template = edit(stack["name"], template)
        account = stack["account_id"] or ids.get(stack["account"])
        region = stack["region"]
        if account is None:
            return "FAILED: the account's id is not known yet"
        try:
            prepare_account(endpoint, account, region, [template], done)
            prepare_backends(endpoint, account, region, template, done)
            cfn = client("cloudformation", endpoint, account, region)
            tags = [{"Key": k, "Value": v} for k, v in sorted(stack["tags"].items())]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                cfn.create_stack(StackName=stack["name"], TemplateBody=json.dumps(template), Tags=tags,
                                 Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
            unsupported = [str(w.message) for w in caught if "not supported by moto" in str(w.message)]
            described = cfn.describe_stacks(StackName=stack["name"])["Stacks"][0]
            status = described["StackStatus"]
            if unsupported:
                status = "FAILED: " + "; ".join(unsupported)
            for output in described.get("Outputs", []):
                export = output.get("ExportName", "")
                found = re.fullmatch(r"idpc-account-(.+)-id", export)
                if found:
                    ids[found.group(1)] = output["OutputValue"]
            if status != "CREATE_COMPLETE":
                roll_back(cfn, stack["name"])
            return status
        except Exception as error:  # the rehearsal reports every stack, then fails
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            roll_back(client("cloudformation", endpoint, account, region), stack["name"])
            return f"FAILED: {message}"

    try:
        manifest = json.loads((out / "manifest.json").read_text())
        stacks = manifest["stacks"] if stacks_order is None else stacks_order(manifest["stacks"])
        results = [create(stack) for stack in stacks]
        rows = [(s["wave"], s["name"], s["account"], s["region"], r) for s, r in zip(stacks, results)]
        if recreate:
            # The organisation stack stays: its accounts are Retain (deleting one closes it) and
            # an account's email cannot open a second account.
            again = [s for s, r in zip(stacks, results) if r == "CREATE_COMPLETE" and s["name"] != "idpc-organisation"]
            KEEP_ON_DELETE["on"] = True
            try:
                for stack in reversed(again):
                    account = stack["account_id"] or ids[stack["account"]]
                    client("cloudformation", endpoint, account, stack["region"]).delete_stack(StackName=stack["name"])
            finally:
                KEEP_ON_DELETE["on"] = False
            rows += [(s["wave"], s["name"] + " (again)", s["account"], s["region"], create(s)) for s in again]
    finally:
        server.stop()
    return rows


def roll_back(cfn, name: str):
    """A stack that failed rolls back in AWS: nothing of it, its exports included, remains for
    later stacks (moto keeps what it created before the failure)."""
    try:
        cfn.delete_stack(StackName=name)
    except Exception:
        pass


def table(title: str, rows: list[tuple]):
    print(f"\n{title}\n")
    print("| wave | stack | account | region | result |")
    print("|---:|---|---|---|---|")
    for wave, name, account, region, result in rows:
        print(f"| {wave} | {name} | {account} | {region} | {result} |")


def main(args: list[str]) -> int:
    self_test = "--self-test" in args
    outs = [Path(a) for a in args if a != "--self-test"]
    if not outs:
        print(__doc__, file=sys.stderr)
        return 2
    register_stand_ins()
    keep_retained_on_delete()
    service_errors_fail_the_stack()
    print("stood in for: " + ", ".join(sorted(STOOD_IN)) + " (and AWS::ApiGateway::RestApi, whose Body moto imports)")
    failed = 0
    for out in outs:
        rows = rehearse(out, recreate=True)
        table(f"rehearsal of {out}", rows)
        bad = [r for r in rows if r[4] != "CREATE_COMPLETE"]
        accounts = {r[2] for r in rows}
        regions = {r[3] for r in rows}
        again = sum(1 for r in rows if r[1].endswith(" (again)"))
        print(f"\n{len(rows) - len(bad)} of {len(rows)} stack creates CREATE_COMPLETE ({len(rows) - again} stacks, then {again} of them deleted and created again), in {len(accounts)} accounts and {len(regions)} regions")
        failed += len(bad)
    if self_test:
        out = outs[0]

        # Every stage stack that imports the authorizer's ARN imports a missing export instead:
        # each of those must fail (a stage with no JWT, such as an allow-list-only sandbox,
        # imports nothing and is not counted).
        edited = set()

        def dangling(name, template):
            if name.startswith("idpc-api-"):
                text = json.dumps(template)
                broken = text.replace('"Fn::ImportValue": "idpc-jwt-authorizer-arn"', '"Fn::ImportValue": "idpc-no-such-export"')
                if broken != text:
                    edited.add(name)
                return json.loads(broken)
            return template

        rows = rehearse(out, edit=dangling)
        broken = [r for r in rows if r[1] in edited and r[4] != "CREATE_COMPLETE"]
        print(f"\nself-test, a dangling import: {len(broken)} of {len(edited)} API stage stacks importing it failed (expected: all)")
        if not edited or len(broken) != len(edited):
            print("self-test FAILED: a stage stack importing a missing export was created")
            failed += 1
        # A stage stack whose kept access log group has a fixed name: its first create
        # succeeds, its create after a deletion fails on the group the deletion kept.
        def fixed_name(name, template):
            group = template.get("Resources", {}).get("AccessLogGroup")
            if group:
                group["Properties"]["LogGroupName"] = f"/idpc/apigateway/{name}/access"
            return template

        rows = rehearse(out, edit=fixed_name, recreate=True)
        first = [r for r in rows if r[1].startswith("idpc-api-") and not r[1].endswith(" (again)")]
        again = [r for r in rows if r[1].startswith("idpc-api-") and r[1].endswith(" (again)")]
        broken = [r for r in again if "log group already exists" in r[4]]
        print(f"self-test, a kept log group with a fixed name: {len(broken)} of {len(again)} API stage stacks failed to create again on it (expected: all)")
        for row in broken[:2]:
            print(f"  {row[1]}: {row[4]}")
        if not again or len(broken) != len(again) or any(r[4] != "CREATE_COMPLETE" for r in first):
            print("self-test FAILED: a stage stack was created again beside the log group its deletion kept")
            failed += 1
        rows = rehearse(out, stacks_order=lambda stacks: sorted(stacks, key=lambda s: (-s["wave"], s["name"])))
        broken = [r for r in rows if r[4] != "CREATE_COMPLETE"]
        print(f"self-test, waves in reverse order: {len(broken)} of {len(rows)} stacks failed (expected: some)")
        for row in broken[:5]:
            print(f"  {row[1]}: {row[4]}")
        if not broken:
            print("self-test FAILED: stacks deployed out of wave order were all created")
            failed += 1
    print(f"\nrehearsal: {'failed' if failed else 'passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
