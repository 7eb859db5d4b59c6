//! `add --dry-run -o yaml|json`: the Kubernetes objects the plan applies, as one `v1 List`
//! that `kubectl apply -f -` takes (to review, or to commit to Git), and what it leaves out.

use serde_json::{Value, json};

use crate::adapters::kube::objects::manifest;
use crate::core::action::Step;
use crate::core::model::IRSA_ANNOTATION;
use crate::core::plan::Plan;

/// The plan's Kubernetes objects (unchanged ones too: the List is the whole desired state),
/// and a line for each AWS write, which no manifest can carry.
pub(crate) fn manifests(plan: &Plan) -> (Value, Vec<String>) {
    let mut items = Vec::new();
    let mut aws = Vec::new();
    for action in &plan.actions {
        match &action.step {
            Step::ApplySecret { secret } => items.push(json!(manifest(secret))),
            // Only the annotation: applied, it merges into the service account Argo CD made.
            Step::AnnotateServiceAccount {
                service_account,
                role_arn,
                ..
            } => items.push(json!({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {
                    "name": service_account.name,
                    "namespace": service_account.namespace,
                    "annotations": { IRSA_ANNOTATION: role_arn.to_string() },
                },
            })),
            step => aws.push(format!("{} ({})", step.subject(), action.detail)),
        }
    }
    (
        json!({"apiVersion": "v1", "kind": "List", "items": items}),
        aws,
    )
}
