"""The AWS environment EKS would inject into the argocd-application-controller pod.

Prints KEY=VALUE lines for the controller process, as EKS's webhooks make them at pod start:
- IRSA, when the service account carries `eks.amazonaws.com/role-arn`: AWS_ROLE_ARN and
  AWS_WEB_IDENTITY_TOKEN_FILE, a token from the hub apiserver's TokenRequest API for that
  service account with audience sts.amazonaws.com (what the kubelet projects);
- EKS Pod Identity, when the hub cluster has an association for the service account:
  AWS_CONTAINER_CREDENTIALS_FULL_URI (the agent stand-in) and
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, a token with audience pods.eks.amazonaws.com
  bound to the controller's Pod object (so it names the pod, as the kubelet's does).
Both may apply, as on EKS; the SDK then prefers IRSA. Neither: no AWS identity at all.
The last line is `# identity: irsa|pod-identity|irsa+pod-identity|none`.
"""

import argparse
import json
import subprocess
from pathlib import Path

import boto3

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
TOKEN_SECONDS = 86400


def kubectl(args, *cmd: str, stdin: str | None = None) -> str:
    return subprocess.run(
        [args.kubectl, "--kubeconfig", args.kubeconfig, "-n", args.namespace, *cmd],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def pod(args) -> dict:
    """The controller's Pod object (Pending forever: the sandbox has no kubelet)."""
    name = f"{args.service_account}-0"
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": args.namespace, "labels": {"app.kubernetes.io/name": args.service_account}},
        "spec": {
            "serviceAccountName": args.service_account,
            "automountServiceAccountToken": False,
            "containers": [{"name": "controller", "image": "sandbox.local/argocd-application-controller:stand-in"}],
        },
    }
    kubectl(args, "apply", "--server-side", "--field-manager", "sandbox-argocd", "-f", "-", stdin=json.dumps(manifest))
    return json.loads(kubectl(args, "get", "pod", name, "-o", "json"))


def token(args, audience: str, bound_pod: dict | None = None) -> str:
    cmd = ["create", "token", args.service_account, "--audience", audience, "--duration", f"{TOKEN_SECONDS}s"]
    if bound_pod:
        cmd += [
            "--bound-object-kind",
            "Pod",
            "--bound-object-name",
            bound_pod["metadata"]["name"],
            "--bound-object-uid",
            bound_pod["metadata"]["uid"],
        ]
    return kubectl(args, *cmd).strip()


def write(path: Path, value: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value)
    path.chmod(0o600)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kubectl", required=True)
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--namespace", default="argocd")
    p.add_argument("--service-account", default="argocd-application-controller")
    p.add_argument("--hub-cluster", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--moto-url", required=True)
    p.add_argument("--agent-url", required=True)
    p.add_argument("--dir", type=Path, required=True, help="where the token files go")
    args = p.parse_args()

    lines, modes = [], []
    sa = json.loads(kubectl(args, "get", "serviceaccount", args.service_account, "-o", "json"))
    role = (sa["metadata"].get("annotations") or {}).get(IRSA_ANNOTATION)
    if role:
        path = write(args.dir / "irsa-token", token(args, "sts.amazonaws.com"))
        lines += [f"AWS_ROLE_ARN={role}", f"AWS_WEB_IDENTITY_TOKEN_FILE={path}", "AWS_STS_REGIONAL_ENDPOINTS=regional"]
        modes.append("irsa")

    eks = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing").client(
        "eks", region_name=args.region, endpoint_url=args.moto_url
    )
    associations = eks.list_pod_identity_associations(
        clusterName=args.hub_cluster, namespace=args.namespace, serviceAccount=args.service_account
    )["associations"]
    if associations:
        path = write(args.dir / "pod-identity-token", token(args, "pods.eks.amazonaws.com", pod(args)))
        lines += [f"AWS_CONTAINER_CREDENTIALS_FULL_URI={args.agent_url}", f"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={path}"]
        modes.append("pod-identity")
    lines += [f"AWS_REGION={args.region}", f"AWS_DEFAULT_REGION={args.region}"]
    print("\n".join(lines))
    print(f"# identity: {'+'.join(modes) or 'none'}")


if __name__ == "__main__":
    main()
