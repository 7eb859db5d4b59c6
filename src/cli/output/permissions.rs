//! `policy --permissions`: the IAM policy as JSON (what aws iam create-policy takes) and the
//! RBAC as YAML (what kubectl apply -f - takes); with -o json|yaml, both in that format.

use std::io::{self, Write};

use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};

use super::Text;
use crate::cli::args::PermissionsArg;
use crate::core::permissions::IamPolicy;

pub(crate) struct Permissions {
    pub(crate) what: PermissionsArg,
    /// The caller's IAM policy document.
    pub(crate) iam: IamPolicy,
    /// The hub's Role and ClusterRole.
    pub(crate) rbac: Vec<Value>,
}

impl Permissions {
    /// The RBAC objects as one `v1 List`, for a document.
    fn rbac_list(&self) -> Value {
        json!({"apiVersion": "v1", "kind": "List", "items": self.rbac})
    }
}

impl serde::Serialize for Permissions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.what {
            PermissionsArg::Iam => self.iam.serialize(serializer),
            PermissionsArg::Rbac => self.rbac_list().serialize(serializer),
            PermissionsArg::All => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("iam", &self.iam)?;
                map.serialize_entry("rbac", &self.rbac_list())?;
                map.end()
            }
        }
    }
}

fn write_iam(out: &mut dyn Write, iam: &IamPolicy) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, iam)?;
    writeln!(out)
}

fn write_rbac(out: &mut dyn Write, rbac: &[Value]) -> io::Result<()> {
    for (index, object) in rbac.iter().enumerate() {
        if index > 0 {
            writeln!(out, "---")?;
        }
        let text = serde_saphyr::to_string(object).map_err(io::Error::other)?;
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

impl Text for Permissions {
    fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        match self.what {
            PermissionsArg::Iam => write_iam(out, &self.iam),
            PermissionsArg::Rbac => write_rbac(out, &self.rbac),
            PermissionsArg::All => {
                writeln!(
                    out,
                    "IAM policy for whoever runs kubectl argocd-eks (policy --permissions=iam prints it alone, for aws iam create-policy --policy-document file://...):"
                )?;
                write_iam(out, &self.iam)?;
                writeln!(
                    out,
                    "\nKubernetes RBAC on the hub (policy --permissions=rbac prints it alone, for kubectl apply -f -; then bind both to you, e.g. kubectl -n NS create rolebinding argocd-eks --role kubectl-argocd-eks --user YOU):"
                )?;
                write_rbac(out, &self.rbac)
            }
        }
    }
}
