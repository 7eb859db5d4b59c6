"""Request handlers for the added EKS operations; moto serializes them by botocore's model."""

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import (
    AccessDeniedError,
    InvalidClientTokenIdError,
    JsonRESTError,
    SignatureDoesNotMatchError,
)
from moto.core.responses import ActionResult, EmptyResult
from moto.eks.responses import EKSResponse

from .backend import DEFAULT_MAX_RESULTS, paginate, validate_auto_mode

_moto_create_cluster = EKSResponse.create_cluster
_moto_update_cluster_config = EKSResponse.update_cluster_config
# moto's refusals (XML, query-protocol codes) -> the codes a rest-json service sends.
AUTH_ERROR_CODES = {
    "AccessDenied": "AccessDeniedException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
    "InvalidClientTokenId": "UnrecognizedClientException",
}


class ExtendedEKSResponse:
    """Methods grafted onto moto's EKSResponse, one per operation (botocore's xform_name)."""

    def _page(self: EKSResponse, items: list, result_key: str) -> ActionResult:
        page, token = paginate(
            items, self._get_int_param("maxResults", DEFAULT_MAX_RESULTS), self._get_param("nextToken")
        )
        return ActionResult({result_key: page, "nextToken": token})

    def _authenticate_and_authorize_normal_action(self: EKSResponse, resource: str = "*") -> None:
        """moto's IAM check (when enforced), fixed for rest-json: the signed payload is the raw
        body (moto signed the parsed query of a body-less GET), and a refusal is JSON."""
        self.data = {}
        try:
            ActionAuthenticatorMixin._authenticate_and_authorize_normal_action(self, resource)
        except (AccessDeniedError, InvalidClientTokenIdError, SignatureDoesNotMatchError) as refusal:
            error = JsonRESTError(AUTH_ERROR_CODES[refusal.error_type], refusal.message)
            error.code = refusal.code
            raise error from refusal

    # Clusters: moto's handlers, plus accessConfig

    def create_cluster(self: EKSResponse) -> ActionResult:
        auto_mode = [self._get_param(k) for k in ("computeConfig", "storageConfig", "kubernetesNetworkConfig")]
        validate_auto_mode(self._get_param("name"), *auto_mode)
        result = _moto_create_cluster(self)
        cluster = result.result["cluster"]
        cluster.access_config.update(self._get_param("accessConfig") or {})
        if auto_mode[0] is not None or auto_mode[1] is not None:
            self.eks_backend.set_auto_mode(cluster, *auto_mode)
        return result

    def update_cluster_config(self: EKSResponse) -> ActionResult:
        _moto_update_cluster_config(self)
        name = self._get_param("name")
        access_config = self._get_param("accessConfig")
        auto_mode = [self._get_param(k) for k in ("computeConfig", "storageConfig")]
        if access_config is not None:
            update = self.eks_backend.update_access_config(name, access_config.get("authenticationMode"))
        elif auto_mode != [None, None]:
            update = self.eks_backend.update_auto_mode(
                name, *auto_mode, self._get_param("kubernetesNetworkConfig")
            )
        else:
            update = self.eks_backend.record_update(
                self.eks_backend.describe_cluster(name), "ConfigUpdate", []
            )
        return ActionResult({"update": update})

    def describe_update(self: EKSResponse) -> ActionResult:
        return ActionResult(
            {"update": self.eks_backend.describe_update(self._get_param("name"), self._get_param("updateId"))}
        )

    # Pod identity associations

    def create_pod_identity_association(self: EKSResponse) -> ActionResult:
        association = self.eks_backend.create_pod_identity_association(
            self._get_param("name"),
            self._get_param("namespace"),
            self._get_param("serviceAccount"),
            self._get_param("roleArn"),
            tags=self._get_param("tags"),
            disable_session_tags=self._get_param("disableSessionTags"),
            target_role_arn=self._get_param("targetRoleArn"),
            policy=self._get_param("policy"),
        )
        return ActionResult({"association": association})

    def describe_pod_identity_association(self: EKSResponse) -> ActionResult:
        association = self.eks_backend.describe_pod_identity_association(
            self._get_param("name"), self._get_param("associationId")
        )
        return ActionResult({"association": association})

    def update_pod_identity_association(self: EKSResponse) -> ActionResult:
        association = self.eks_backend.update_pod_identity_association(
            self._get_param("name"),
            self._get_param("associationId"),
            role_arn=self._get_param("roleArn"),
            disable_session_tags=self._get_param("disableSessionTags"),
            target_role_arn=self._get_param("targetRoleArn"),
            policy=self._get_param("policy"),
        )
        return ActionResult({"association": association})

    def delete_pod_identity_association(self: EKSResponse) -> ActionResult:
        association = self.eks_backend.delete_pod_identity_association(
            self._get_param("name"), self._get_param("associationId")
        )
        return ActionResult({"association": association})

    def list_pod_identity_associations(self: EKSResponse) -> ActionResult:
        associations = self.eks_backend.list_pod_identity_associations(
            self._get_param("name"), self._get_param("namespace"), self._get_param("serviceAccount")
        )
        return self._page(associations, "associations")

    # Access entries

    def create_access_entry(self: EKSResponse) -> ActionResult:
        entry = self.eks_backend.create_access_entry(
            self._get_param("name"),
            self._get_param("principalArn"),
            kubernetes_groups=self._get_param("kubernetesGroups"),
            tags=self._get_param("tags"),
            username=self._get_param("username"),
            entry_type=self._get_param("type"),
        )
        return ActionResult({"accessEntry": entry})

    def describe_access_entry(self: EKSResponse) -> ActionResult:
        entry = self.eks_backend.describe_access_entry(
            self._get_param("name"), self._get_param("principalArn")
        )
        return ActionResult({"accessEntry": entry})

    def update_access_entry(self: EKSResponse) -> ActionResult:
        entry = self.eks_backend.update_access_entry(
            self._get_param("name"),
            self._get_param("principalArn"),
            kubernetes_groups=self._get_param("kubernetesGroups"),
            username=self._get_param("username"),
        )
        return ActionResult({"accessEntry": entry})

    def delete_access_entry(self: EKSResponse) -> ActionResult:
        self.eks_backend.delete_access_entry(self._get_param("name"), self._get_param("principalArn"))
        return EmptyResult()

    def list_access_entries(self: EKSResponse) -> ActionResult:
        entries = self.eks_backend.list_access_entries(
            self._get_param("name"), self._get_param("associatedPolicyArn")
        )
        return self._page(entries, "accessEntries")

    # Access policies

    def associate_access_policy(self: EKSResponse) -> ActionResult:
        name, principal_arn = self._get_param("name"), self._get_param("principalArn")
        associated = self.eks_backend.associate_access_policy(
            name, principal_arn, self._get_param("policyArn"), self._get_param("accessScope")
        )
        return ActionResult(
            {"clusterName": name, "principalArn": principal_arn, "associatedAccessPolicy": associated}
        )

    def list_associated_access_policies(self: EKSResponse) -> ActionResult:
        name, principal_arn = self._get_param("name"), self._get_param("principalArn")
        result = self._page(
            self.eks_backend.list_associated_access_policies(name, principal_arn), "associatedAccessPolicies"
        )
        result.result.update(clusterName=name, principalArn=principal_arn)
        return result

    def disassociate_access_policy(self: EKSResponse) -> ActionResult:
        self.eks_backend.disassociate_access_policy(
            self._get_param("name"), self._get_param("principalArn"), self._get_param("policyArn")
        )
        return EmptyResult()

    def list_access_policies(self: EKSResponse) -> ActionResult:
        return self._page(self.eks_backend.list_access_policies(), "accessPolicies")

    # Add-ons

    def create_addon(self: EKSResponse) -> ActionResult:
        addon = self.eks_backend.create_addon(
            self._get_param("name"),
            self._get_param("addonName"),
            addon_version=self._get_param("addonVersion"),
            service_account_role_arn=self._get_param("serviceAccountRoleArn"),
            tags=self._get_param("tags"),
            configuration_values=self._get_param("configurationValues"),
        )
        return ActionResult({"addon": addon})

    def describe_addon(self: EKSResponse) -> ActionResult:
        return ActionResult(
            {"addon": self.eks_backend.describe_addon(self._get_param("name"), self._get_param("addonName"))}
        )

    def delete_addon(self: EKSResponse) -> ActionResult:
        return ActionResult(
            {"addon": self.eks_backend.delete_addon(self._get_param("name"), self._get_param("addonName"))}
        )

    def list_addons(self: EKSResponse) -> ActionResult:
        return self._page(self.eks_backend.list_addons(self._get_param("name")), "addons")


def patch_responses() -> None:
    """Graft the handlers onto moto's EKSResponse."""
    for name, member in vars(ExtendedEKSResponse).items():
        if not name.startswith("__"):
            setattr(EKSResponse, name, member)
