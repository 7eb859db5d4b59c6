"""A stand-in for the EKS Pod Identity Agent, on loopback.

EKS injects AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials and
AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (a projected service account token, audience
pods.eks.amazonaws.com) into a pod whose service account has an association. The SDK sends
that token as the Authorization header; the agent calls EKS Auth AssumeRoleForPodIdentity
with it and answers with the credentials. This one does the same on 127.0.0.1 (aws-sdk-go
v1 allows loopback hosts), against the sandbox's moto, as the hub cluster's node.

    python pod_identity_agent.py --port N --moto-url URL --cluster NAME --region R
"""

import argparse
import datetime
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def log(message: str) -> None:
    print(f"pod-identity-agent: {message}", file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    server: "Agent"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        log(format % args)

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/v1/credentials":
            self.answer(404, {"message": f"no route {self.path}"})
            return
        token = self.headers.get("Authorization", "")
        if not token:
            self.answer(400, {"message": "Service account token cannot be empty"})
            return
        try:
            out = self.server.eks_auth.assume_role_for_pod_identity(clusterName=self.server.cluster, token=token)
        except ClientError as error:
            status = error.response["ResponseMetadata"].get("HTTPStatusCode", 500)
            code = error.response["Error"].get("Code")
            log(f"EKS Auth refused: {code}: {error.response['Error'].get('Message')}")
            self.answer(status if status < 500 else 500, {"message": f"{code}: {error.response['Error'].get('Message')}"})
            return
        creds = out["credentials"]
        expiration = creds["expiration"]
        if isinstance(expiration, datetime.datetime):
            expiration = expiration.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        log(f"credentials for {out['subject']['namespace']}/{out['subject']['serviceAccount']} as {out['assumedRoleUser']['arn']}")
        self.answer(
            200,
            {
                "AccessKeyId": creds["accessKeyId"],
                "SecretAccessKey": creds["secretAccessKey"],
                "Token": creds["sessionToken"],
                "AccountId": out["assumedRoleUser"]["arn"].split(":")[4],
                "Expiration": expiration,
            },
        )


class Agent(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, moto_url: str, cluster: str, region: str):
        super().__init__(("127.0.0.1", port), Handler)
        self.cluster = cluster
        # The node's own credentials (the sandbox's default keys), as the agent has its node role's.
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
        self.eks_auth = session.client(
            "eks-auth", region_name=region, endpoint_url=moto_url, config=Config(retries={"max_attempts": 1})
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moto-url", required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--region", required=True)
    args = parser.parse_args()
    agent = Agent(args.port, args.moto_url, args.cluster, args.region)
    log(f"listening on 127.0.0.1:{args.port} for cluster {args.cluster}")
    agent.serve_forever()


if __name__ == "__main__":
    main()
