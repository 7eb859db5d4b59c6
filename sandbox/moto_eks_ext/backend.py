"""EKS state moto lacks (pod identity, access entries and policies, add-ons, access config)."""

import json
import re
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.utils import utcnow
from moto.eks.exceptions import (
    EKSError,
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from moto.eks.models import Cluster, EKSBackend
from moto.eks.utils import validate_role_arn
from moto.moto_api._internal import mock_random as random

from . import fidelity

# The EKS API docs: "If you create a cluster by using the EKS API, Amazon Web Services
# SDKs, or CloudFormation, the default is CONFIG_MAP."
DEFAULT_AUTHENTICATION_MODE = "CONFIG_MAP"
# Each mode may only move one step to the right.
AUTHENTICATION_MODES = ["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"]
DEFAULT_ADDON_VERSION = "v1.3.4-eksbuild.1"
ACCESS_POLICY_NAMES = [
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
    "AmazonEKSViewPolicy",
]
# Access policies live in each partition: arn:aws-cn:eks::aws:cluster-access-policy/... in China.
ACCESS_POLICY_ARN = "arn:{partition}:eks::aws:cluster-access-policy/{name}"


def access_policy_arn(partition: str, name: str) -> str:
    return ACCESS_POLICY_ARN.format(partition=partition, name=name)

PRINCIPAL_ARN = re.compile(r"^arn:(aws[\w-]*):iam::(\d{12}):(role|user)/(?:.*/)?([^/]+)$")
DEFAULT_MAX_RESULTS = 100


def _eks_error_init(self: EKSError, **fields: Any) -> None:
    """moto's EKSError, with `__type` in the body and no null members."""
    JsonRESTError.__init__(self, self.TYPE, fields.get("message", ""))
    self.code = self.STATUS
    body = {"__type": self.TYPE, **{k: v for k, v in fields.items() if v is not None}}
    self.description = json.dumps(body)
    self.headers = {"status": self.STATUS, "x-amzn-ErrorType": self.TYPE}


def paginate(items: list[Any], max_results: int, next_token: str | None) -> tuple[list[Any], str | None]:
    """A page of items; the token is the offset of the next page."""
    if next_token is not None and not (next_token.isdigit() and int(next_token) <= len(items)):
        raise InvalidParameterException(message="The nextToken is not valid.")
    start = int(next_token or 0)
    end = start + max_results
    return items[start:end], (str(end) if end < len(items) else None)


def _set_roles(
    association: dict[str, Any], role_arn: str, target_role_arn: str | None, policy: str | None
) -> None:
    """Sets an association's roles; a target role (role chaining) gets an external id."""
    validate_role_arn(role_arn)
    if target_role_arn:
        validate_role_arn(target_role_arn)
        association["externalId"] = association.get("externalId") or str(random.uuid4())
    else:
        association.pop("externalId", None)
    association.update(
        roleArn=role_arn, targetRoleArn=target_role_arn or None, policy=policy, modifiedAt=utcnow()
    )


def _without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


def validate_auto_mode(
    cluster_name: str,
    compute: dict[str, Any] | None,
    storage: dict[str, Any] | None,
    network: dict[str, Any] | None,
) -> None:
    """EKS Auto Mode is one switch in three places: compute, block storage and load balancing
    are enabled together or not at all."""
    if compute is None and storage is None and network is None:
        return
    switches = [
        bool((compute or {}).get("enabled")),
        bool(((storage or {}).get("blockStorage") or {}).get("enabled")),
        bool(((network or {}).get("elasticLoadBalancing") or {}).get("enabled")),
    ]
    if any(switches) and not all(switches):
        raise InvalidParameterException(
            clusterName=cluster_name,
            message="For EKS Auto Mode, computeConfig.enabled, storageConfig.blockStorage.enabled and "
            "kubernetesNetworkConfig.elasticLoadBalancing.enabled must all be true, or all false.",
        )


def _not_found(cluster: Cluster, message: str, **fields: Any) -> ResourceNotFoundException:
    return ResourceNotFoundException(clusterName=cluster.name, message=message, **fields)


class ExtendedEKSBackend:
    """Methods grafted onto moto's EKSBackend; state lives on each moto Cluster."""

    def _arn(self: EKSBackend, resource: str) -> str:
        return f"arn:{self.partition}:eks:{self.region_name}:{self.account_id}:{resource}"

    # Pod identity associations

    def create_pod_identity_association(
        self: EKSBackend,
        cluster_name: str,
        namespace: str,
        service_account: str,
        role_arn: str,
        tags: dict[str, str] | None,
        disable_session_tags: bool | None,
        target_role_arn: str | None,
        policy: str | None,
    ) -> dict[str, Any]:
        cluster = self.describe_cluster(cluster_name)
        for existing in cluster.pod_identity_associations.values():
            if (existing["namespace"], existing["serviceAccount"]) == (namespace, service_account):
                raise ResourceInUseException(
                    clusterName=cluster_name,
                    message="Association already exists: " + existing["associationId"],
                )
        association_id = "a-" + random.get_random_string(17, lower_case=True)
        association = {
            "clusterName": cluster_name,
            "namespace": namespace,
            "serviceAccount": service_account,
            "associationId": association_id,
            "associationArn": self._arn(f"podidentityassociation/{cluster_name}/{association_id}"),
            "tags": tags or {},
            "disableSessionTags": bool(disable_session_tags),
        }
        _set_roles(association, role_arn, target_role_arn, policy)
        association["createdAt"] = association["modifiedAt"]
        cluster.pod_identity_associations[association_id] = association
        return association

    def _association(self: EKSBackend, cluster_name: str, association_id: str) -> dict[str, Any]:
        cluster = self.describe_cluster(cluster_name)
        if association_id not in cluster.pod_identity_associations:
            raise _not_found(cluster, f"No Pod Identity Association found for id: {association_id}.")
        return cluster.pod_identity_associations[association_id]

    def describe_pod_identity_association(
        self: EKSBackend, cluster_name: str, association_id: str
    ) -> dict[str, Any]:
        return self._association(cluster_name, association_id)

    def update_pod_identity_association(
        self: EKSBackend,
        cluster_name: str,
        association_id: str,
        role_arn: str | None,
        disable_session_tags: bool | None,
        target_role_arn: str | None,
        policy: str | None,
    ) -> dict[str, Any]:
        association = self._association(cluster_name, association_id)
        if disable_session_tags is not None:
            association["disableSessionTags"] = disable_session_tags
        _set_roles(
            association,
            role_arn or association["roleArn"],
            association["targetRoleArn"] if target_role_arn is None else target_role_arn,
            association["policy"] if policy is None else policy,
        )
        return association

    def delete_pod_identity_association(
        self: EKSBackend, cluster_name: str, association_id: str
    ) -> dict[str, Any]:
        self._association(cluster_name, association_id)
        return self.describe_cluster(cluster_name).pod_identity_associations.pop(association_id)

    def list_pod_identity_associations(
        self: EKSBackend, cluster_name: str, namespace: str | None, service_account: str | None
    ) -> list[dict[str, Any]]:
        associations = self.describe_cluster(cluster_name).pod_identity_associations.values()
        return sorted(
            (
                a
                for a in associations
                if namespace in (None, a["namespace"]) and service_account in (None, a["serviceAccount"])
            ),
            key=lambda a: a["associationId"],
        )

    # Access entries

    def _api_cluster(self: EKSBackend, cluster_name: str) -> Cluster:
        cluster = self.describe_cluster(cluster_name)
        if cluster.access_config["authenticationMode"] == "CONFIG_MAP":
            raise InvalidRequestException(
                clusterName=cluster_name,
                message="The cluster's authentication mode must be set to one of "
                "[API, API_AND_CONFIG_MAP] to perform this operation.",
            )
        return cluster

    def create_access_entry(
        self: EKSBackend,
        cluster_name: str,
        principal_arn: str,
        kubernetes_groups: list[str] | None,
        tags: dict[str, str] | None,
        username: str | None,
        entry_type: str | None,
    ) -> dict[str, Any]:
        cluster = self._api_cluster(cluster_name)
        principal = PRINCIPAL_ARN.match(principal_arn)
        if not principal:
            raise InvalidParameterException(
                clusterName=cluster_name,
                message=f"The specified principalArn is invalid: {principal_arn}. "
                "It must be the ARN of an IAM role or user.",
            )
        if principal_arn in cluster.access_entries:
            raise ResourceInUseException(
                clusterName=cluster_name,
                message=f"The specified access entry is already in use on this cluster: {principal_arn}",
            )
        partition, account, kind, name = principal.groups()
        if not username:
            username = (
                f"arn:{partition}:sts::{account}:assumed-role/{name}/{{{{SessionName}}}}"
                if kind == "role"
                else principal_arn
            )
        now = utcnow()
        entry = {
            "clusterName": cluster_name,
            "principalArn": principal_arn,
            "kubernetesGroups": kubernetes_groups or [],
            "accessEntryArn": self._arn(
                f"access-entry/{cluster_name}/{kind}/{account}/{name}/{random.uuid4()}"
            ),
            "createdAt": now,
            "modifiedAt": now,
            "tags": tags or {},
            "username": username,
            "type": entry_type or "STANDARD",
            "policies": {},
        }
        cluster.access_entries[principal_arn] = entry
        return entry

    def describe_access_entry(self: EKSBackend, cluster_name: str, principal_arn: str) -> dict[str, Any]:
        cluster = self._api_cluster(cluster_name)
        if principal_arn not in cluster.access_entries:
            raise _not_found(cluster, f"The specified principalArn could not be found: {principal_arn}.")
        return cluster.access_entries[principal_arn]

    def update_access_entry(
        self: EKSBackend,
        cluster_name: str,
        principal_arn: str,
        kubernetes_groups: list[str] | None,
        username: str | None,
    ) -> dict[str, Any]:
        entry = self.describe_access_entry(cluster_name, principal_arn)
        if kubernetes_groups is not None:
            entry["kubernetesGroups"] = kubernetes_groups
        if username:
            entry["username"] = username
        entry["modifiedAt"] = utcnow()
        return entry

    def delete_access_entry(self: EKSBackend, cluster_name: str, principal_arn: str) -> None:
        self.describe_access_entry(cluster_name, principal_arn)
        del self.describe_cluster(cluster_name).access_entries[principal_arn]

    def list_access_entries(
        self: EKSBackend, cluster_name: str, associated_policy_arn: str | None
    ) -> list[str]:
        entries = self._api_cluster(cluster_name).access_entries.values()
        return sorted(e["principalArn"] for e in entries if associated_policy_arn in (None, *e["policies"]))

    # Access policies

    def associate_access_policy(
        self: EKSBackend, cluster_name: str, principal_arn: str, policy_arn: str, access_scope: dict[str, Any]
    ) -> dict[str, Any]:
        entry = self.describe_access_entry(cluster_name, principal_arn)
        if policy_arn not in [access_policy_arn(self.partition, name) for name in ACCESS_POLICY_NAMES]:
            raise InvalidParameterException(
                clusterName=cluster_name, message=f"The policyArn is not a valid access policy: {policy_arn}"
            )
        namespaces = access_scope.get("namespaces") or []
        if (access_scope.get("type") == "namespace") != bool(namespaces):
            raise InvalidParameterException(
                clusterName=cluster_name,
                message="Namespaces must be given for, and only for, an accessScope of type namespace.",
            )
        now = utcnow()
        associated = entry["policies"].setdefault(policy_arn, {"policyArn": policy_arn, "associatedAt": now})
        associated.update(
            accessScope={"type": access_scope["type"], "namespaces": namespaces}, modifiedAt=now
        )
        return associated

    def list_associated_access_policies(
        self: EKSBackend, cluster_name: str, principal_arn: str
    ) -> list[dict[str, Any]]:
        policies = self.describe_access_entry(cluster_name, principal_arn)["policies"]
        return [policies[arn] for arn in sorted(policies)]

    def disassociate_access_policy(
        self: EKSBackend, cluster_name: str, principal_arn: str, policy_arn: str
    ) -> None:
        policies = self.describe_access_entry(cluster_name, principal_arn)["policies"]
        if policy_arn not in policies:
            raise ResourceNotFoundException(
                clusterName=cluster_name, message=f"The access policy is not associated: {policy_arn}."
            )
        del policies[policy_arn]

    def list_access_policies(self: EKSBackend) -> list[dict[str, str]]:
        return [{"name": name, "arn": access_policy_arn(self.partition, name)} for name in ACCESS_POLICY_NAMES]

    # Add-ons

    def create_addon(
        self: EKSBackend,
        cluster_name: str,
        addon_name: str,
        addon_version: str | None,
        service_account_role_arn: str | None,
        tags: dict[str, str] | None,
        configuration_values: str | None,
    ) -> dict[str, Any]:
        cluster = self.describe_cluster(cluster_name)
        if addon_name in cluster.addons:
            raise ResourceInUseException(
                clusterName=cluster_name, addonName=addon_name, message="Addon already exists."
            )
        now = utcnow()
        addon = {
            "addonName": addon_name,
            "clusterName": cluster_name,
            "status": "ACTIVE",
            "addonVersion": addon_version or DEFAULT_ADDON_VERSION,
            "health": {"issues": []},
            "addonArn": self._arn(f"addon/{cluster_name}/{addon_name}/{random.uuid4()}"),
            "createdAt": now,
            "modifiedAt": now,
            "serviceAccountRoleArn": service_account_role_arn,
            "tags": tags or {},
            "configurationValues": configuration_values,
        }
        cluster.addons[addon_name] = addon
        return addon

    def describe_addon(self: EKSBackend, cluster_name: str, addon_name: str) -> dict[str, Any]:
        cluster = self.describe_cluster(cluster_name)
        if addon_name not in cluster.addons:
            raise _not_found(
                cluster, f"No addon: {addon_name} found in cluster: {cluster_name}", addonName=addon_name
            )
        return cluster.addons[addon_name]

    def delete_addon(self: EKSBackend, cluster_name: str, addon_name: str) -> dict[str, Any]:
        self.describe_addon(cluster_name, addon_name)
        return {**self.describe_cluster(cluster_name).addons.pop(addon_name), "status": "DELETING"}

    def list_addons(self: EKSBackend, cluster_name: str) -> list[str]:
        return sorted(self.describe_cluster(cluster_name).addons)

    # EKS Auto Mode (computeConfig, storageConfig, kubernetesNetworkConfig.elasticLoadBalancing)

    def set_auto_mode(
        self: EKSBackend,
        cluster: Cluster,
        compute: dict[str, Any] | None,
        storage: dict[str, Any] | None,
        network: dict[str, Any] | None,
    ) -> None:
        """Auto Mode's three switches, which EKS wants all on or all off."""
        validate_auto_mode(cluster.name, compute, storage, network)
        if compute is not None:
            cluster.compute_config = {"enabled": bool(compute.get("enabled")), **_without(compute, "enabled")}
        if storage is not None:
            cluster.storage_config = {
                "blockStorage": {"enabled": bool((storage.get("blockStorage") or {}).get("enabled"))}
            }
        balancing = (network or {}).get("elasticLoadBalancing")
        if balancing is not None:
            cluster.kubernetes_network_config = {
                **(cluster.kubernetes_network_config or {}),
                "elasticLoadBalancing": {"enabled": bool(balancing.get("enabled"))},
            }

    def update_auto_mode(
        self: EKSBackend,
        cluster_name: str,
        compute: dict[str, Any] | None,
        storage: dict[str, Any] | None,
        network: dict[str, Any] | None,
    ) -> dict[str, Any]:
        cluster = self.describe_cluster(cluster_name)
        self.set_auto_mode(cluster, compute, storage, network)
        params = [
            {"type": kind, "value": json.dumps(value)}
            for kind, value in (
                ("ComputeConfig", compute),
                ("StorageConfig", storage),
                ("KubernetesNetworkConfig", network),
            )
            if value is not None
        ]
        return self.record_update(cluster, "AutoModeUpdate", params)

    # Access config and cluster updates

    def update_access_config(self: EKSBackend, cluster_name: str, mode: str | None) -> dict[str, Any]:
        cluster = self.describe_cluster(cluster_name)
        current = cluster.access_config["authenticationMode"]
        if mode == current:
            raise InvalidParameterException(
                clusterName=cluster_name,
                message=f"Cluster is already at the desired configuration with authenticationMode: {mode}",
            )
        if (
            mode not in AUTHENTICATION_MODES
            or AUTHENTICATION_MODES.index(mode) != AUTHENTICATION_MODES.index(current) + 1
        ):
            raise InvalidParameterException(
                clusterName=cluster_name,
                message=f"Unsupported authentication mode update from {current} to {mode}",
            )
        cluster.access_config["authenticationMode"] = mode
        return self.record_update(
            cluster, "AccessConfigUpdate", [{"type": "AuthenticationMode", "value": mode}]
        )

    def record_update(
        self: EKSBackend, cluster: Cluster, update_type: str, params: list[dict[str, str]]
    ) -> dict[str, Any]:
        """An update that has already succeeded, kept for DescribeUpdate."""
        update = {
            "id": str(random.uuid4()),
            "status": "Successful",
            "type": update_type,
            "params": params,
            "createdAt": utcnow(),
            "errors": [],
        }
        cluster.updates[update["id"]] = update
        return update

    def describe_update(self: EKSBackend, cluster_name: str, update_id: str) -> dict[str, Any]:
        cluster = self.describe_cluster(cluster_name)
        if update_id not in cluster.updates:
            raise _not_found(cluster, f"No update found for ID: {update_id}.")
        return cluster.updates[update_id]


_moto_cluster_init = Cluster.__init__


def _cluster_init(self: Cluster, *args: Any, **kwargs: Any) -> None:
    """moto's Cluster, plus the state of the added operations."""
    _moto_cluster_init(self, *args, **kwargs)
    _, partition, _, region = self.arn.split(":", 4)[:4]
    fidelity.give_cluster_its_own_identity(self, region, partition)
    self.access_config = {
        "authenticationMode": DEFAULT_AUTHENTICATION_MODE,
        "bootstrapClusterCreatorAdminPermissions": True,
    }
    self.pod_identity_associations = {}
    self.access_entries = {}
    self.addons = {}
    self.updates = {}
    # EKS Auto Mode: absent until asked for, as DescribeCluster shows it for other clusters.
    self.compute_config = None
    self.storage_config = None


def patch_backend() -> None:
    """Graft the added state and methods onto moto's EKS models and errors."""
    Cluster.__init__ = _cluster_init
    EKSError.__init__ = _eks_error_init
    for name, member in vars(ExtendedEKSBackend).items():
        if not name.startswith("__"):
            setattr(EKSBackend, name, member)
