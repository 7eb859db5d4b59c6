"""Verifies Kubernetes service account tokens (JWTs) issued by the sandbox kube-apiserver.

The key is the apiserver's `--service-account-key-file` (a PEM public key), named by the
environment variable MOTO_EKS_EXT_SA_PUBLIC_KEY of the moto process. STS (IRSA's
AssumeRoleWithWebIdentity) and EKS Auth (Pod Identity) verify tokens with it, as AWS
verifies them against the cluster's OIDC issuer keys.
"""

import base64
import binascii
import json
import os
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

KEY_ENV = "MOTO_EKS_EXT_SA_PUBLIC_KEY"
LEEWAY = 60


class InvalidToken(Exception):
    """The token is not a valid service account token; the message says why."""


class ExpiredToken(InvalidToken):
    pass


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify(token: str) -> dict[str, Any]:
    """The token's claims, once its RS256 signature, expiry and not-before check out."""
    path = os.environ.get(KEY_ENV)
    if not path:
        raise InvalidToken(f"the sandbox's moto has no service account key ({KEY_ENV} is unset)")
    with open(path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    try:
        header_b64, payload_b64, signature_b64 = token.strip().split(".")
        header = json.loads(_b64(header_b64))
        claims = json.loads(_b64(payload_b64))
        signature = _b64(signature_b64)
    except (ValueError, binascii.Error):
        raise InvalidToken("the token is not a JWT") from None
    if header.get("alg") != "RS256":
        raise InvalidToken(f"the token is signed with {header.get('alg')!r}, not RS256")
    try:
        key.verify(signature, f"{header_b64}.{payload_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise InvalidToken("the token's signature does not verify with the cluster's service account key") from None
    now = time.time()
    if "exp" not in claims or now > claims["exp"] + LEEWAY:
        raise ExpiredToken("the token has expired")
    if now + LEEWAY < claims.get("nbf", 0):
        raise InvalidToken("the token is not valid yet")
    return claims
