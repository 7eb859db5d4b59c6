"""Clusters as EKS makes them, where moto does not: an endpoint, CA and OIDC issuer of each
cluster's own, in its partition's DNS suffix (so a test cannot pass by two clusters sharing one)."""

import base64
import datetime
import json
import os
import secrets
from typing import Any

import botocore
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto.eks.models import Cluster


def _partitions() -> list[dict[str, Any]]:
    """botocore's partitions data (as the SDKs resolve endpoints)."""
    path = os.path.join(os.path.dirname(botocore.__file__), "data", "partitions.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["partitions"]


PARTITIONS = {p["id"]: p for p in _partitions()}


def dns_suffix(partition: str) -> str:
    return PARTITIONS.get(partition, PARTITIONS["aws"])["outputs"]["dnsSuffix"]


def sts_hosts(partition: str) -> set[str]:
    """The STS hosts a presigned EKS token may name, as aws-iam-authenticator accepts them:
    `sts.<region>.<suffix>` for each region of the cluster's partition, and the global
    `sts.amazonaws.com` in the commercial partition only."""
    data = PARTITIONS.get(partition)
    if data is None:
        return set()
    suffix = data["outputs"]["dnsSuffix"]
    hosts = {f"sts.{region}.{suffix}" for region in data["regions"] if not region.endswith("-global")}
    if partition == "aws":
        hosts.add("sts.amazonaws.com")
    return hosts


def cluster_ca_data(name: str) -> str:
    """certificateAuthority.data as EKS gives it: base64 of a PEM CA certificate, one per
    cluster (an EC key: generating it takes a millisecond, so 500 clusters seed quickly)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(f"{name}.kubernetes.invalid")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def give_cluster_its_own_identity(cluster: Cluster, region: str, partition: str) -> None:
    """An endpoint, OIDC issuer and CA of this cluster's own, in its partition's DNS suffix:
    `https://<32 hex>.<zone>.<region>.eks.<suffix>` and `https://oidc.eks.<region>.<suffix>/id/<32 hex>`,
    as EKS makes them (no trailing slash)."""
    suffix = dns_suffix(partition)
    cluster_id = secrets.token_hex(16).upper()
    letters = "abcdefghijklmnopqrstuvwxyz"
    zone = secrets.choice(letters) + secrets.choice(letters) + str(secrets.randbelow(10))
    cluster.endpoint = f"https://{cluster_id}.{zone}.{region}.eks.{suffix}"
    cluster.identity = {"oidc": {"issuer": f"https://oidc.eks.{region}.{suffix}/id/{cluster_id}"}}
    cluster.certificate_authority = {"data": cluster_ca_data(cluster.name)}
