"""Seeds a fleet into the sandbox's moto for scripts/bench: N EKS clusters spread round-robin
over accounts x regions (so no account and region holds more than ceil(N / pairs)), and in
every account but the first a role `fleet-discovery` that the first account's credentials
assume with `--assume-role`.

    python sandbox/fleet_seed.py --moto-url URL --clusters 500 --accounts A B C --regions R...

Prints the clusters' ARNs as JSON on stdout. Idempotent: clusters and roles that exist are
left alone.
"""

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

ROLE = "fleet-discovery"
K8S_VERSION = "1.35"


def client(session, moto_url, service, account, region="us-east-1"):
    c = session.client(
        service, region_name=region, endpoint_url=moto_url, config=Config(retries={"max_attempts": 2})
    )

    def add_account(request, **_):
        request.headers["x-moto-account-id"] = account

    c.meta.events.register("before-sign.*.*", add_account)
    return c


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--moto-url", required=True)
    p.add_argument("--clusters", type=int, default=500)
    p.add_argument("--accounts", nargs="+", required=True)
    p.add_argument("--regions", nargs="+", required=True)
    args = p.parse_args()
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    first = args.accounts[0]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{first}:root"}, "Action": "sts:AssumeRole"}],
    }
    for account in args.accounts[1:]:
        iam = client(session, args.moto_url, "iam", account)
        try:
            iam.get_role(RoleName=ROLE)
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust),
                            Description="scripts/bench: discovery across accounts")

    pairs = [(a, r) for a in args.accounts for r in args.regions]
    wanted = {}
    for i in range(args.clusters):
        wanted.setdefault(pairs[i % len(pairs)], []).append(f"fleet-{i:03d}")

    def seed(pair):
        account, region = pair
        eks = client(session, args.moto_url, "eks", account, region)
        have = set(eks.list_clusters(maxResults=100)["clusters"])
        arns = []
        for name in wanted[pair]:
            if name not in have:
                eks.create_cluster(
                    name=name,
                    version=K8S_VERSION,
                    roleArn=f"arn:aws:iam::{account}:role/eks-cluster-role",
                    resourcesVpcConfig={"subnetIds": [], "endpointPublicAccess": True},
                    accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
                )
            arns.append(f"arn:aws:eks:{region}:{account}:cluster/{name}")
        return arns

    with ThreadPoolExecutor(8) as pool:
        arns = [arn for chunk in pool.map(seed, wanted) for arn in chunk]
    json.dump(sorted(arns), sys.stdout)


if __name__ == "__main__":
    main()
