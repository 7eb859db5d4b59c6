"""EKS Auth's AssumeRoleForPodIdentity, the call the EKS Pod Identity Agent makes (moto lacks it).

POST /clusters/{clusterName}/assume-role-for-pod-identity, body {"token": <service account
token>}, signed for service `eks-auth` (shapes from botocore's eks-auth 2023-11-26 model).
As EKS: the token must verify (sandbox apiserver's key, issuer of the cluster, audience
pods.eks.amazonaws.com); a pod identity association must exist for its namespace and
service account; the association's role must trust pods.eks.amazonaws.com for
sts:AssumeRole and sts:TagSession; the session carries the transitive session tags EKS sets
(eks-cluster-arn, eks-cluster-name, kubernetes-namespace, kubernetes-service-account,
kubernetes-pod-name, kubernetes-pod-uid). With a targetRoleArn the role is chained natively:
the target must trust the association's role (sts:AssumeRole + sts:TagSession).
"""

import json
import os
import re
import uuid
from collections.abc import Callable
from typing import Any

from moto.eks.models import eks_backends
from moto.iam.models import get_account_id_from

from . import satoken, trust

PATH = re.compile(r"^/clusters/([^/]+)/assume-role-for-pod-identity$")
SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/eks-auth/")
AUDIENCE = "pods.eks.amazonaws.com"
SESSION_SECONDS = 6 * 3600


class EksAuthError(Exception):
    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def _role_session_name(cluster: str, pod: str) -> str:
    return f"eks-{cluster}-{pod}-{uuid.uuid4()}"[:64]


def assume_role_for_pod_identity(account: str, region: str, cluster_name: str, token: str) -> dict[str, Any]:
    cluster = eks_backends[account][region].clusters.get(cluster_name)
    if cluster is None:
        raise EksAuthError(404, "ResourceNotFoundException", f"No cluster found for name: {cluster_name}.")
    try:
        claims = satoken.verify(token)
    except satoken.ExpiredToken as error:
        raise EksAuthError(400, "ExpiredTokenException", str(error)) from None
    except satoken.InvalidToken as error:
        raise EksAuthError(400, "InvalidTokenException", str(error)) from None
    issuer = (cluster.identity or {}).get("oidc", {}).get("issuer")
    if claims.get("iss") != issuer:
        raise EksAuthError(400, "InvalidTokenException", f"the token's issuer is not that of cluster {cluster_name}")
    if AUDIENCE not in trust.as_list(claims.get("aud")):
        raise EksAuthError(400, "InvalidTokenException", f"the token's audience is not {AUDIENCE}")
    k8s = claims.get("kubernetes.io") or {}
    namespace = k8s.get("namespace", "")
    service_account = (k8s.get("serviceaccount") or {}).get("name", "")
    pod = k8s.get("pod") or {}
    association = next(
        (
            a
            for a in cluster.pod_identity_associations.values()
            if (a["namespace"], a["serviceAccount"]) == (namespace, service_account)
        ),
        None,
    )
    if association is None:
        raise EksAuthError(
            400,
            "AccessDeniedException",
            f"no EKS Pod Identity association on cluster {cluster_name} for service account {namespace}/{service_account}",
        )
    tags = {}
    if not association.get("disableSessionTags"):
        tags = {
            "eks-cluster-arn": cluster.arn,
            "eks-cluster-name": cluster_name,
            "kubernetes-namespace": namespace,
            "kubernetes-service-account": service_account,
            "kubernetes-pod-name": pod.get("name", ""),
            "kubernetes-pod-uid": pod.get("uid", ""),
        }
    role_arn = association["roleArn"]
    role = trust.role_of(role_arn)
    actions = ["sts:AssumeRole"] + (["sts:TagSession"] if tags else [])
    if role is None or not trust.allowed(trust.trust_document(role), actions, {"Service": [AUDIENCE]}, {}):
        raise EksAuthError(
            400,
            "AccessDeniedException",
            f"role {role_arn} does not trust {AUDIENCE} for {' and '.join(actions)}",
        )
    session_name = _role_session_name(cluster_name, pod.get("name", "pod"))
    session = trust.assume_role_session(role_arn, session_name, region, tags, SESSION_SECONDS)
    target = association.get("targetRoleArn")
    if target:
        target_role = trust.role_of(target)
        principal, _ = trust.caller_principal(session)
        if target_role is None or not trust.allowed(
            trust.trust_document(target_role), actions, principal, {"aws:principalarn": [role_arn]}
        ):
            raise EksAuthError(
                400,
                "AccessDeniedException",
                f"target role {target} does not trust {role_arn} for {' and '.join(actions)}",
            )
        session = trust.assume_role_session(target, session_name, region, tags, SESSION_SECONDS)
    return {
        "subject": {"namespace": namespace, "serviceAccount": service_account},
        "audience": AUDIENCE,
        "podIdentityAssociation": {
            "associationArn": association["associationArn"],
            "associationId": association["associationId"],
        },
        "assumedRoleUser": {"arn": session.arn, "assumeRoleId": session.user_id},
        "credentials": {
            "sessionToken": session.session_token,
            "secretAccessKey": session.secret_access_key,
            "accessKeyId": session.access_key_id,
            "expiration": int(session.expiration.timestamp()),
        },
    }


class EksAuthApp:
    """WSGI wrapper: serves EKS Auth requests, passes everything else to moto."""

    def __init__(self, app: Callable[..., Any]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = PATH.match(environ.get("PATH_INFO", ""))
        scope = SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not (path and scope and environ["REQUEST_METHOD"] == "POST"):
            return self.app(environ, start_response)
        account = (
            os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID") or get_account_id_from(scope[1])
        )
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            if not body.get("token"):
                raise EksAuthError(400, "InvalidParameterException", "token is required")
            status, payload = 200, assume_role_for_pod_identity(account, scope[2], path[1], body["token"])
            headers = []
        except EksAuthError as error:
            status, payload = error.status, {"message": error.message}
            headers = [("x-amzn-ErrorType", error.kind)]
        except ValueError:
            status, payload, headers = 400, {"message": "the body is not JSON"}, [("x-amzn-ErrorType", "InvalidRequestException")]
        data = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
        start_response(
            f"{status} {reason}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers],
        )
        return [data]
