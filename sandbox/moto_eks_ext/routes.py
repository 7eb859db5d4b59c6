"""The EKS operations this extension adds to moto, with their HTTP method and URI."""

import re

from moto.eks import urls

ROUTES = {
    "CreatePodIdentityAssociation": ("POST", "/clusters/{name}/pod-identity-associations"),
    "ListPodIdentityAssociations": ("GET", "/clusters/{name}/pod-identity-associations"),
    "DescribePodIdentityAssociation": (
        "GET",
        "/clusters/{name}/pod-identity-associations/{associationId}",
    ),
    "UpdatePodIdentityAssociation": (
        "POST",
        "/clusters/{name}/pod-identity-associations/{associationId}",
    ),
    "DeletePodIdentityAssociation": (
        "DELETE",
        "/clusters/{name}/pod-identity-associations/{associationId}",
    ),
    "CreateAccessEntry": ("POST", "/clusters/{name}/access-entries"),
    "ListAccessEntries": ("GET", "/clusters/{name}/access-entries"),
    "DescribeAccessEntry": ("GET", "/clusters/{name}/access-entries/{principalArn}"),
    "UpdateAccessEntry": ("POST", "/clusters/{name}/access-entries/{principalArn}"),
    "DeleteAccessEntry": ("DELETE", "/clusters/{name}/access-entries/{principalArn}"),
    "AssociateAccessPolicy": (
        "POST",
        "/clusters/{name}/access-entries/{principalArn}/access-policies",
    ),
    "ListAssociatedAccessPolicies": (
        "GET",
        "/clusters/{name}/access-entries/{principalArn}/access-policies",
    ),
    "DisassociateAccessPolicy": (
        "DELETE",
        "/clusters/{name}/access-entries/{principalArn}/access-policies/{policyArn}",
    ),
    "ListAccessPolicies": ("GET", "/access-policies"),
    "CreateAddon": ("POST", "/clusters/{name}/addons"),
    "ListAddons": ("GET", "/clusters/{name}/addons"),
    "DescribeAddon": ("GET", "/clusters/{name}/addons/{addonName}"),
    "DeleteAddon": ("DELETE", "/clusters/{name}/addons/{addonName}"),
    "DescribeUpdate": ("GET", "/clusters/{name}/updates/{updateId}"),
}

# Labels holding ARNs: the server sees them percent-decoded, slashes and all.
_ARN_LABELS = {"principalArn", "policyArn"}


def url_pattern(uri: str) -> str:
    """moto's url_paths key for a model requestUri (labels become named groups)."""

    def group(label: re.Match) -> str:
        name = label[1]
        return f"(?P<{name}>{'.+' if name in _ARN_LABELS else '[^/]+'})"

    return "{0}" + re.sub(r"\{(\w+)\}", group, uri) + "$"


def add_routes() -> None:
    """Route the added URIs to moto's EKS dispatcher, which picks the operation
    from botocore's model by method and path."""
    for _, uri in ROUTES.values():
        urls.url_paths.setdefault(url_pattern(uri), urls.response.dispatch)
