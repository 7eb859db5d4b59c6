//! Pod identity as EKS gives it today: the role an association really hands the pods (its
//! `targetRoleArn` when EKS chains to one), and whether the hub runs the pod identity agent
//! (the add-on, EKS Auto Mode, or a DaemonSet).

use serde::Serialize;

use super::model::PodIdentityAssociation;

impl PodIdentityAssociation {
    /// The role the pods end up with: the target role when EKS chains to one.
    pub(crate) fn effective_role(&self) -> &str {
        self.target_role_arn.as_deref().unwrap_or(&self.role_arn)
    }

    /// `role`, or `role -> target` with native chaining, and `(session tags off)`.
    pub(crate) fn describe_roles(&self) -> String {
        let mut text = self.role_arn.clone();
        if let Some(target) = &self.target_role_arn {
            text.push_str(&format!(" -> target {target}"));
        }
        if self.disable_session_tags {
            text.push_str(" (session tags off)");
        }
        text
    }
}

/// Whether the hub runs the EKS Pod Identity agent, and how it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum PodIdentityAgent {
    /// The `eks-pod-identity-agent` add-on.
    AddOn,
    /// EKS Auto Mode (`computeConfig.enabled`), where the agent is built in.
    AutoMode,
    /// A DaemonSet kube-system/eks-pod-identity-agent (installed by Helm or by hand).
    DaemonSet,
    Absent,
}

impl PodIdentityAgent {
    /// From what was read (None: could not read): present when any says so, absent when all
    /// say not, None (cannot tell) otherwise.
    pub(crate) fn detect(
        addon: Option<bool>,
        auto_mode: Option<bool>,
        daemon_set: Option<bool>,
    ) -> Option<Self> {
        let seen = [
            (addon, PodIdentityAgent::AddOn),
            (auto_mode, PodIdentityAgent::AutoMode),
            (daemon_set, PodIdentityAgent::DaemonSet),
        ];
        if let Some((_, how)) = seen.iter().find(|(said, _)| *said == Some(true)) {
            return Some(*how);
        }
        seen.iter()
            .all(|(said, _)| *said == Some(false))
            .then_some(PodIdentityAgent::Absent)
    }

    pub(crate) fn present(self) -> bool {
        self != PodIdentityAgent::Absent
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            PodIdentityAgent::AddOn => "eks-pod-identity-agent add-on",
            PodIdentityAgent::AutoMode => "built into EKS Auto Mode (computeConfig.enabled)",
            PodIdentityAgent::DaemonSet => "DaemonSet kube-system/eks-pod-identity-agent",
            PodIdentityAgent::Absent => {
                "no eks-pod-identity-agent add-on, no EKS Auto Mode, no DaemonSet kube-system/eks-pod-identity-agent"
            }
        }
    }
}
