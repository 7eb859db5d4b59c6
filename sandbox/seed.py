"""Seeds the sandbox's moto with the EKS clusters and IAM state the tests and the demo use.

Run by `scripts/sandbox up` with the sandbox venv's python. Idempotent: what already exists
is left alone (a trust policy that differs from the one below is put back).

Accounts HUB and OTHER, regions us-east-1 and eu-west-1:
  HUB   us-east-1  argocd-hub   API_AND_CONFIG_MAP  -> the sandbox kube-apiserver, its OIDC
                                                       issuer, add-on eks-pod-identity-agent
  HUB   us-east-1  staging      API                 -> the sandbox kube-apiserver
  HUB   eu-west-1  prod-eu      API_AND_CONFIG_MAP
  HUB   eu-west-1  legacy       CONFIG_MAP
  OTHER us-east-1  team-b-dev   API
  OTHER eu-west-1  team-b-prod  API
IAM in HUB: the OIDC provider of argocd-hub's issuer; role argocd-management (EKS Pod
Identity trust) and role argocd-irsa (IRSA trust for the three Argo CD service accounts).
IAM in OTHER: role argocd-deployer, trusting HUB's argocd-management (AssumeRole and
TagSession, as pod identity's session tags are transitive).
"""

import argparse
import base64
import json
import sys
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ARGOCD_NAMESPACE = "argocd"
ARGOCD_SERVICE_ACCOUNTS = (
    "argocd-application-controller",
    "argocd-server",
    "argocd-applicationset-controller",
)
POD_IDENTITY_AGENT = "eks-pod-identity-agent"
K8S_VERSION = "1.35"
# The thumbprint AWS shows for oidc.eks.*.amazonaws.com; IAM no longer checks it for EKS.
OIDC_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


# Opt-in regions the hub account has not enabled (a region AWS added after the account was made
# must be enabled by hand: af-south-1, ap-east-2, mx-central-1, ...).
OPT_IN_REGIONS_NOT_ENABLED = ["ap-east-2", "mx-central-1"]


def partition_of(region):
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--moto-url", required=True)
    p.add_argument("--apiserver", required=True, help="https://127.0.0.1:PORT")
    p.add_argument("--ca-file", required=True, help="PEM of the sandbox CA")
    p.add_argument("--issuer", required=True, help="the apiserver's --service-account-issuer")
    p.add_argument("--hub-account", default="123456789012")
    p.add_argument("--other-account", default="210987654321")
    return p.parse_args()


class Seeder:
    def __init__(self, args):
        self.moto_url = args.moto_url.rstrip("/")
        self.hub = args.hub_account
        self.other = args.other_account
        self.apiserver = args.apiserver
        with open(args.ca_file, "rb") as f:
            # certificateAuthority.data as EKS gives it: base64 of the PEM, one line.
            self.ca_data = base64.b64encode(f.read()).decode()
        self.issuer = args.issuer
        self.issuer_host_path = args.issuer.removeprefix("https://")
        self.session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.clients = {}
        self.created = []

    # ------------------------------------------------------------------ plumbing

    def client(self, service, account, region="us-east-1"):
        key = (service, account, region)
        if key not in self.clients:
            c = self.session.client(
                service,
                region_name=region,
                endpoint_url=self.moto_url,
                config=Config(retries={"max_attempts": 2}),
            )

            def add_account(request, **_):
                request.headers["x-moto-account-id"] = account

            c.meta.events.register("before-sign.*.*", add_account)
            self.clients[key] = c
        return self.clients[key]

    def sandbox_post(self, path, body):
        req = urllib.request.Request(
            self.moto_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=10) as resp:
            resp.read()

    def note(self, what):
        self.created.append(what)

    # ------------------------------------------------------------------ EKS

    def cluster(self, account, region, name, mode):
        eks = self.client("eks", account, region)
        if name in eks.list_clusters()["clusters"]:
            return
        eks.create_cluster(
            name=name,
            version=K8S_VERSION,
            roleArn=f"arn:{partition_of(region)}:iam::{account}:role/eks-cluster-role",
            resourcesVpcConfig={
                "subnetIds": [],
                "endpointPublicAccess": True,
                "endpointPrivateAccess": False,
            },
            accessConfig={
                "authenticationMode": mode,
                "bootstrapClusterCreatorAdminPermissions": True,
            },
        )
        self.note(f"cluster {account}/{region}/{name} ({mode})")

    def point_at_sandbox(self, account, region, name, oidc_issuer=None):
        """Makes a cluster's endpoint and CA (and issuer) those of the sandbox apiserver."""
        eks = self.client("eks", account, region)
        c = eks.describe_cluster(name=name)["cluster"]
        want = {"endpoint": self.apiserver, "caData": self.ca_data}
        have = {"endpoint": c.get("endpoint"), "caData": c.get("certificateAuthority", {}).get("data")}
        if oidc_issuer:
            want["oidcIssuer"] = oidc_issuer
            have["oidcIssuer"] = c.get("identity", {}).get("oidc", {}).get("issuer")
        if have == want:
            return
        self.sandbox_post(
            "/_sandbox/eks/cluster",
            {"account": account, "region": region, "name": name, **want},
        )
        self.note(f"cluster {account}/{region}/{name} -> {self.apiserver}")

    def addon(self, account, region, cluster, name):
        eks = self.client("eks", account, region)
        if name in eks.list_addons(clusterName=cluster)["addons"]:
            return
        eks.create_addon(clusterName=cluster, addonName=name)
        self.note(f"add-on {name} on {cluster}")

    # ------------------------------------------------------------------ IAM

    def oidc_provider(self, account):
        iam = self.client("iam", account)
        arn = f"arn:aws:iam::{account}:oidc-provider/{self.issuer_host_path}"
        existing = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
        if arn not in existing:
            iam.create_open_id_connect_provider(
                Url=self.issuer,
                ClientIDList=["sts.amazonaws.com"],
                ThumbprintList=[OIDC_THUMBPRINT],
            )
            self.note(f"OIDC provider {arn}")
        return arn

    def role(self, account, name, trust, description):
        iam = self.client("iam", account)
        try:
            have = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchEntity":
                raise
            iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust),
                Description=description,
            )
            self.note(f"role arn:aws:iam::{account}:role/{name}")
            return
        if isinstance(have, str):  # boto3 decodes it; be safe if a version does not
            have = json.loads(urllib.parse.unquote(have))
        if have != trust:
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
            self.note(f"trust policy of arn:aws:iam::{account}:role/{name} put back")

    # ------------------------------------------------------------------ the seed

    def run(self):
        hub, other = self.hub, self.other
        for account, region, name, mode in (
            (hub, "us-east-1", "argocd-hub", "API_AND_CONFIG_MAP"),
            (hub, "us-east-1", "staging", "API"),
            (hub, "eu-west-1", "prod-eu", "API_AND_CONFIG_MAP"),
            (hub, "eu-west-1", "legacy", "CONFIG_MAP"),
            (other, "us-east-1", "team-b-dev", "API"),
            (other, "eu-west-1", "team-b-prod", "API"),
            # The other partitions (ARNs arn:aws-cn:..., arn:aws-us-gov:...), served by the
            # sandbox apiserver so a registration there can be proven end to end.
            (hub, "cn-north-1", "china-prod", "API"),
            (hub, "us-gov-west-1", "gov-prod", "API"),
        ):
            self.cluster(account, region, name, mode)
        self.point_at_sandbox(hub, "us-east-1", "argocd-hub", oidc_issuer=self.issuer)
        self.point_at_sandbox(hub, "us-east-1", "staging")
        self.point_at_sandbox(hub, "cn-north-1", "china-prod")
        self.point_at_sandbox(hub, "us-gov-west-1", "gov-prod")
        # As in most real accounts, some opt-in regions are not enabled: EKS there refuses
        # the caller's credentials (UnrecognizedClientException).
        self.sandbox_post("/_sandbox/regions", {"account": hub, "disabled": OPT_IN_REGIONS_NOT_ENABLED})
        self.addon(hub, "us-east-1", "argocd-hub", POD_IDENTITY_AGENT)

        provider_arn = self.oidc_provider(hub)
        self.role(
            hub,
            "argocd-management",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "pods.eks.amazonaws.com"},
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                    }
                ],
            },
            "Argo CD management role (EKS Pod Identity)",
        )
        hp = self.issuer_host_path
        self.role(
            hub,
            "argocd-irsa",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": provider_arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{hp}:sub": [
                                    f"system:serviceaccount:{ARGOCD_NAMESPACE}:{sa}"
                                    for sa in ARGOCD_SERVICE_ACCOUNTS
                                ],
                                f"{hp}:aud": "sts.amazonaws.com",
                            }
                        },
                    }
                ],
            },
            "Argo CD management role (IRSA)",
        )
        self.role(
            other,
            "argocd-deployer",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{hub}:role/argocd-management"},
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                    }
                ],
            },
            "Target role assumed by Argo CD's management role",
        )


def main():
    seeder = Seeder(parse_args())
    seeder.run()
    for what in seeder.created:
        print(f"seed: {what}", file=sys.stderr)
    if not seeder.created:
        print("seed: nothing to do", file=sys.stderr)


if __name__ == "__main__":
    main()
