"""Role trust policies enforced at the sandbox's STS, which moto does not check.

moto lets anyone assume any role. Here `sts:AssumeRoleWithWebIdentity` is allowed only when
the web identity token verifies (signature with the sandbox apiserver's service account key,
expiry, an IAM OIDC provider for its issuer and audience) and the role's trust policy allows
that provider with its `sub`/`aud` conditions; `sts:AssumeRole` called with temporary
credentials (an assumed-role session, as Argo CD's chained roles are) is allowed only when
the role's trust names the caller's role or account, and allows `sts:TagSession` when the
caller's session carries transitive session tags (EKS Pod Identity's). Calls with long-term
keys (the sandbox operator's `testing` key, IAM users) are left to moto, as before.

Session tags of the sessions made here are kept on moto's AssumedRole (`session_tags`).
"""

import fnmatch
import json
import re
import threading
import urllib.parse
from typing import Any

from moto.core.exceptions import _RESTError
from moto.iam.models import iam_backends
from moto.sts.models import STSBackend, sts_backends
from moto.sts.responses import TokenResponse

from . import satoken

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
ROLE_ARN = re.compile(r"^arn:([\w-]+):iam::(\d{12}):role/(?:.*/)?([^/]+)$")
ASSUMED_ROLE = re.compile(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([^/]+)/(.+)$")
_pending = threading.local()


class AccessDenied(_RESTError):
    """STS's 403 AccessDenied (moto's serializer cannot write an error STS's model lacks)."""

    code = 403

    def __init__(self, message: str):
        super().__init__("AccessDenied", message)


class InvalidIdentityToken(_RESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("InvalidIdentityToken", message)


# ---------------------------------------------------------------- policy evaluation


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def role_of(role_arn: str) -> Any:
    """moto's IAM role for an ARN, or None."""
    match = ROLE_ARN.match(role_arn or "")
    if not match:
        return None
    partition, account = match[1], match[2]
    try:
        return iam_backends[account][partition].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - moto raises its own NotFound types
        try:
            return iam_backends[account][partition].get_role(match[3])
        except Exception:  # noqa: BLE001
            return None


def trust_document(role: Any) -> dict[str, Any]:
    doc = role.assume_role_policy_document
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            doc = json.loads(urllib.parse.unquote(doc))
    return doc


def _action_matches(statement: dict[str, Any], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in as_list(statement.get("Action")))


def _principal_matches(statement: dict[str, Any], principal: dict[str, list[str]]) -> bool:
    """`principal` maps a principal type (AWS, Federated, Service) to the names the caller
    counts as (e.g. its role ARN and its account's root)."""
    given = statement.get("Principal")
    if given == "*":
        return True
    if not isinstance(given, dict):
        return False
    for kind, names in principal.items():
        for listed in as_list(given.get(kind)):
            if listed == "*" or listed in names:
                return True
    return False


STRING_OPERATORS = {
    "StringEquals": lambda have, want: have == want,
    "StringLike": lambda have, want: fnmatch.fnmatchcase(have, want),
    "ArnEquals": lambda have, want: have == want,
    "ArnLike": lambda have, want: fnmatch.fnmatchcase(have, want),
}


def _conditions_hold(statement: dict[str, Any], context: dict[str, list[str]]) -> bool:
    for operator, tests in (statement.get("Condition") or {}).items():
        prefix, _, base = operator.partition(":")
        qualifier = prefix if base else None
        base = base or prefix
        negate = base.startswith(("StringNot", "ArnNot"))
        test = STRING_OPERATORS.get(base.replace("Not", "", 1) if negate else base)
        if test is None:
            return False  # an operator the sandbox does not know never holds (fail closed)
        for key, wanted in tests.items():
            have = context.get(key.lower(), [])
            if qualifier == "ForAllValues":
                ok = all(any(test(h, w) for w in as_list(wanted)) for h in have)
            else:
                ok = any(test(h, w) for h in have for w in as_list(wanted))
            if negate:
                ok = not ok if have else True
            if not ok:
                return False
    return True


def allowed(doc: dict[str, Any], actions: list[str], principal: dict[str, list[str]], context: dict[str, list[str]]) -> bool:
    """Whether the trust document allows every action for the principal (and no Deny matches)."""
    statements = as_list(doc.get("Statement"))

    def matching(effect: str, action: str) -> bool:
        return any(
            s.get("Effect") == effect
            and _action_matches(s, action)
            and _principal_matches(s, principal)
            and _conditions_hold(s, context)
            for s in statements
        )

    return all(matching("Allow", a) and not matching("Deny", a) for a in actions)


# ---------------------------------------------------------------- sessions


def find_session(access_key: str) -> Any:
    """moto's AssumedRole for temporary credentials, or None."""
    for _, account in list(sts_backends.items()):
        for _, sts in list(account.items()):
            for session in list(sts.assumed_roles):
                if session.access_key_id == access_key:
                    return session
    return None


def caller_principal(session: Any) -> tuple[dict[str, list[str]], str]:
    """The names an assumed-role session counts as in a Principal.AWS, and its role ARN."""
    match = ASSUMED_ROLE.match(session.arn)
    partition, account, role_name = match[1], match[2], match[3]  # type: ignore[index]
    role_arn = f"arn:{partition}:iam::{account}:role/{role_name}"
    names = [session.arn, role_arn, session.role_arn, f"arn:{partition}:iam::{account}:root", account]
    return {"AWS": list(dict.fromkeys(names))}, session.role_arn


def assume_role_session(role_arn: str, role_session_name: str, region: str, tags: dict[str, str], duration: int = 3600) -> Any:
    """A new moto session of role_arn carrying (transitive) session tags."""
    backend = _any_sts_backend(role_arn)
    _pending.tags = dict(tags)
    try:
        return backend.assume_role(
            region_name=region,
            role_session_name=role_session_name,
            role_arn=role_arn,
            policy=None,
            duration=duration,
            external_id=None,
        )
    finally:
        _pending.tags = None


def _any_sts_backend(role_arn: str) -> STSBackend:
    match = ROLE_ARN.match(role_arn)
    return sts_backends[match[2]][match[1]]  # type: ignore[index]


def check_assume_role(role_arn: str, access_key: str | None, request_tags: dict[str, str]) -> dict[str, str]:
    """Raises AccessDenied when an assumed-role caller may not assume role_arn; returns the
    session tags the new session carries (the caller's transitive ones and the request's)."""
    session = find_session(access_key or "") if access_key else None
    if session is None:
        return request_tags  # long-term keys: left to moto, as before
    principal, caller_role = caller_principal(session)
    inherited = dict(getattr(session, "session_tags", None) or {})
    tags = {**inherited, **request_tags}
    role = role_of(role_arn)
    if role is None:
        raise AccessDenied(f"User: {session.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn} (no such role)")
    actions = ["sts:AssumeRole"] + (["sts:TagSession"] if tags else [])
    context = {
        "aws:principalarn": [caller_role],
        "aws:principalaccount": [session.account_id],
        **{f"aws:principaltag/{k}".lower(): [v] for k, v in inherited.items()},
        **{f"aws:requesttag/{k}".lower(): [v] for k, v in request_tags.items()},
    }
    if not allowed(trust_document(role), actions, principal, context):
        missing = " and sts:TagSession (the caller's session carries session tags)" if tags else ""
        raise AccessDenied(
            f"User: {session.arn} is not authorized to perform: sts:AssumeRole{missing} on resource: {role_arn} "
            "(the role's trust policy does not allow it)"
        )
    return tags


def check_web_identity(role_arn: str, token: str) -> None:
    """Raises unless the token verifies and the role's trust allows its provider and claims."""
    try:
        claims = satoken.verify(token)
    except satoken.InvalidToken as error:
        raise InvalidIdentityToken(str(error)) from None
    issuer = claims.get("iss", "")
    host_path = issuer.removeprefix("https://")
    match = ROLE_ARN.match(role_arn or "")
    if not match:
        raise AccessDenied(f"Not authorized to perform sts:AssumeRoleWithWebIdentity ({role_arn!r} is not a role ARN)")
    partition, account = match[1], match[2]
    provider_arn = f"arn:{partition}:iam::{account}:oidc-provider/{host_path}"
    provider = iam_backends[account][partition].open_id_providers.get(provider_arn)
    if provider is None:
        raise InvalidIdentityToken(f"No OpenIDConnect provider found in your account for {issuer}")
    audiences = as_list(claims.get("aud"))
    if not set(audiences) & set(provider.client_id_list):
        raise InvalidIdentityToken(f"Incorrect token audience {audiences} for provider {provider_arn}")
    role = role_of(role_arn)
    context = {f"{host_path}:sub".lower(): [claims.get("sub", "")], f"{host_path}:aud".lower(): audiences}
    if role is None or not allowed(
        trust_document(role), ["sts:AssumeRoleWithWebIdentity"], {"Federated": [provider_arn]}, context
    ):
        raise AccessDenied(
            "Not authorized to perform sts:AssumeRoleWithWebIdentity "
            f"(role {role_arn} does not trust {provider_arn} for sub {claims.get('sub')!r})"
        )


# ---------------------------------------------------------------- patches


def _request_tags(response: Any) -> dict[str, str]:
    tags = {}
    index = 1
    while response._get_param(f"Tags.member.{index}.Key") is not None:
        tags[response._get_param(f"Tags.member.{index}.Key")] = response._get_param(f"Tags.member.{index}.Value")
        index += 1
    return tags


def _access_key(response: Any) -> str | None:
    match = CREDENTIAL.search(response.headers.get("Authorization", "") if response.headers else "")
    return match[1] if match else None


def patch_sts() -> None:
    """Wrap moto's STS AssumeRole and AssumeRoleWithWebIdentity handlers with the checks."""
    original_assume_role = TokenResponse.assume_role
    original_web_identity = TokenResponse.assume_role_with_web_identity
    original_backend_assume_role = STSBackend.assume_role

    def assume_role(self: Any) -> Any:
        tags = check_assume_role(self._get_param("RoleArn"), _access_key(self), _request_tags(self))
        _pending.tags = tags
        try:
            return original_assume_role(self)
        finally:
            _pending.tags = None

    def assume_role_with_web_identity(self: Any) -> Any:
        check_web_identity(self._get_param("RoleArn"), self._get_param("WebIdentityToken") or "")
        return original_web_identity(self)

    def backend_assume_role(self: Any, *args: Any, **kwargs: Any) -> Any:
        role = original_backend_assume_role(self, *args, **kwargs)
        role.session_tags = getattr(_pending, "tags", None) or {}
        return role

    TokenResponse.assume_role = assume_role
    TokenResponse.assume_role_with_web_identity = assume_role_with_web_identity
    STSBackend.assume_role = backend_assume_role
