//! The aws-auth ConfigMap's `mapRoles`, read the way aws-iam-authenticator reads it
//! (pkg/mapper/configmap ParseMap, pkg/config RoleMapping.Matches, pkg/arn Canonicalize).
//!
//! The authenticator turns the YAML into JSON (object keys come out sorted) and decodes it
//! with Go's encoding/json, so `rolearn`, `roleARN` and `RoleArn` are all the same key, and an
//! entry that does not decode, or has no role ARN, is skipped while the others still count.
//! A caller is matched by its canonical ARN: an assumed-role session becomes
//! `arn:<partition>:iam::<account>:role/<name>`, without the role's path (the session ARN has
//! none), compared case-insensitively. So an entry that spells the role with its path never
//! matches.

use serde_json::Value;

use super::argocd_config::go_key_matches;
use super::model::RoleArn;

/// One usable `mapRoles` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoleMapping {
    pub rolearn: String,
    pub username: String,
    pub groups: Vec<String>,
}

/// The entries the authenticator keeps; Err when the text is not YAML (it keeps none then).
pub(crate) fn parse_map_roles(text: &str) -> Result<Vec<RoleMapping>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || ["``", "\"\"", "''"].contains(&trimmed) {
        return Ok(Vec::new());
    }
    let value: Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    let Value::Array(items) = value else {
        // Go cannot decode anything but a list into []RoleMapping.
        return Ok(Vec::new());
    };
    Ok(items.iter().filter_map(role_mapping).collect())
}

/// One entry as Go decodes it: keys in sorted order (a later one wins), wrong types skipped.
fn role_mapping(item: &Value) -> Option<RoleMapping> {
    let Value::Object(fields) = item else {
        return None;
    };
    let mut mapping = RoleMapping {
        rolearn: String::new(),
        username: String::new(),
        groups: Vec::new(),
    };
    for (key, value) in fields {
        if go_key_matches(key, "rolearn") {
            if let Value::String(text) = value {
                mapping.rolearn = text.clone();
            }
        } else if go_key_matches(key, "username") {
            if let Value::String(text) = value {
                mapping.username = text.clone();
            }
        } else if go_key_matches(key, "groups")
            && let Value::Array(groups) = value
        {
            mapping.groups = groups
                .iter()
                .map(|g| g.as_str().unwrap_or_default().to_owned())
                .collect();
        }
    }
    // Validate(): a role mapping needs a role ARN (SSO entries match SSO roles only).
    (!mapping.rolearn.is_empty()).then_some(mapping)
}

/// The ARN the authenticator compares mapRoles against for a session of `role`.
pub(crate) fn canonical_arn(role: &RoleArn) -> String {
    format!(
        "arn:{}:iam::{}:role/{}",
        role.partition,
        role.account,
        role.name()
    )
}

/// Go's strings.EqualFold for the ARNs at hand: ASCII case, plus the two non-ASCII letters
/// that fold to ASCII ones (U+017F long s, U+212A Kelvin sign).
pub(crate) fn go_equal_fold(a: &str, b: &str) -> bool {
    let fold = |c: char| match c {
        '\u{17F}' => 's',
        '\u{212A}' => 'k',
        c => c.to_ascii_lowercase(),
    };
    a.chars().count() == b.chars().count()
        && a.chars().zip(b.chars()).all(|(x, y)| fold(x) == fold(y))
}

/// What mapRoles says about a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MapRolesMatch<'a> {
    /// An entry the authenticator matches.
    Mapped(&'a RoleMapping),
    /// Only an entry with the role's path, which never matches.
    WithPath(&'a RoleMapping),
    /// Only an entry with an assumed-role session ARN, which never matches.
    SessionArn(&'a RoleMapping),
    None,
}

pub(crate) fn find_role<'a>(mappings: &'a [RoleMapping], role: &RoleArn) -> MapRolesMatch<'a> {
    let canonical = canonical_arn(role);
    if let Some(entry) = mappings
        .iter()
        .find(|m| go_equal_fold(&m.rolearn, &canonical))
    {
        return MapRolesMatch::Mapped(entry);
    }
    if let Some(entry) = mappings
        .iter()
        .find(|m| go_equal_fold(&m.rolearn, &role.to_string()))
    {
        return MapRolesMatch::WithPath(entry);
    }
    let session = format!(
        "arn:{}:sts::{}:assumed-role/{}/",
        role.partition,
        role.account,
        role.name()
    )
    .to_ascii_lowercase();
    match mappings
        .iter()
        .find(|m| m.rolearn.to_ascii_lowercase().starts_with(&session))
    {
        Some(entry) => MapRolesMatch::SessionArn(entry),
        None => MapRolesMatch::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(text: &str) -> RoleArn {
        RoleArn::parse(text).unwrap()
    }

    #[test]
    fn keys_in_any_case_and_arns_in_any_case_match() {
        let text = "- roleARN: arn:aws:iam::210987654321:role/ArgoCD-Deployer\n  UserName: argocd\n  Groups: [system:masters]\n- RoleArn: arn:aws:iam::210987654321:role/other\n  groups: [viewers]\n";
        let mappings = parse_map_roles(text).unwrap();
        assert_eq!(mappings.len(), 2);
        let found = find_role(
            &mappings,
            &role("arn:aws:iam::210987654321:role/argocd-deployer"),
        );
        let MapRolesMatch::Mapped(entry) = found else {
            panic!("{found:?}");
        };
        assert_eq!(
            (entry.username.as_str(), entry.groups.as_slice()),
            ("argocd", &["system:masters".to_owned()][..])
        );
    }

    #[test]
    fn the_role_path_is_stripped_and_an_entry_with_it_never_matches() {
        let principal = role("arn:aws:iam::210987654321:role/teams/argocd");
        let plain = parse_map_roles("- rolearn: arn:aws:iam::210987654321:role/argocd\n").unwrap();
        assert!(matches!(
            find_role(&plain, &principal),
            MapRolesMatch::Mapped(_)
        ));
        let with_path =
            parse_map_roles("- rolearn: arn:aws:iam::210987654321:role/teams/argocd\n").unwrap();
        assert!(matches!(
            find_role(&with_path, &principal),
            MapRolesMatch::WithPath(_)
        ));
        let session =
            parse_map_roles("- rolearn: arn:aws:sts::210987654321:assumed-role/argocd/s1\n")
                .unwrap();
        assert!(matches!(
            find_role(&session, &principal),
            MapRolesMatch::SessionArn(_)
        ));
    }

    #[test]
    fn bad_entries_are_skipped_and_the_rest_still_count() {
        let text = "- sso: {permissionSetName: Admin, accountID: \"210987654321\"}\n  username: admin\n- rolearn: 42\n- just text\n- rolearn: arn:aws:iam::210987654321:role/argocd\n  groups: [system:masters]\n";
        let mappings = parse_map_roles(text).unwrap();
        assert_eq!(mappings.len(), 1);
        assert!(parse_map_roles("''").unwrap().is_empty());
        assert!(parse_map_roles("rolearn: x").unwrap().is_empty());
        assert!(parse_map_roles("- rolearn: [unclosed").is_err());
    }
}
