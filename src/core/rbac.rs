//! What a SelfSubjectRulesReview says the caller may do in a namespace, matched as RBAC
//! matches a request (wildcards, no resource names): allowed, denied, or cannot tell.

/// One resource rule of a rules review.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResourceRule {
    pub(crate) verbs: Vec<String>,
    pub(crate) api_groups: Vec<String>,
    pub(crate) resources: Vec<String>,
    /// When set, the rule allows only these objects, not the verb on the resource in general.
    pub(crate) resource_names: Vec<String>,
}

/// A SelfSubjectRulesReview's answer for one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RulesReview {
    pub(crate) rules: Vec<ResourceRule>,
    /// Some authorizer could not list its rules (a webhook, such as EKS access policies): what
    /// the rules do not allow may still be allowed.
    pub(crate) incomplete: bool,
}

fn matches(list: &[String], wanted: &str) -> bool {
    list.iter().any(|item| item == "*" || item == wanted)
}

impl RulesReview {
    /// Whether `verb` on `resource` of API `group` (every object of it) is allowed: Some(true)
    /// when a rule allows it, Some(false) when none does and the list is complete, None when
    /// only an access review can tell.
    pub(crate) fn allows(&self, verb: &str, group: &str, resource: &str) -> Option<bool> {
        let allowed = self.rules.iter().any(|rule| {
            rule.resource_names.is_empty()
                && matches(&rule.verbs, verb)
                && matches(&rule.api_groups, group)
                && matches(&rule.resources, resource)
        });
        match (allowed, self.incomplete) {
            (true, _) => Some(true),
            (false, false) => Some(false),
            (false, true) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> ResourceRule {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        ResourceRule {
            verbs: owned(verbs),
            api_groups: owned(groups),
            resources: owned(resources),
            resource_names: owned(names),
        }
    }

    #[test]
    fn rules_match_as_rbac_matches_with_wildcards_and_no_resource_names() {
        let review = RulesReview {
            rules: vec![
                rule(&["get", "patch"], &[""], &["secrets"], &[]),
                rule(&["*"], &["apps"], &["deployments"], &[]),
                rule(&["patch"], &[""], &["serviceaccounts"], &["argocd-server"]),
                rule(&["create"], &["*"], &["*"], &[]),
            ],
            incomplete: false,
        };
        assert_eq!(review.allows("patch", "", "secrets"), Some(true));
        assert_eq!(review.allows("patch", "apps", "deployments"), Some(true));
        assert_eq!(review.allows("create", "", "secrets"), Some(true));
        // Not the same group, a rule for one name only, another verb.
        assert_eq!(review.allows("patch", "apps", "secrets"), Some(false));
        assert_eq!(review.allows("patch", "", "serviceaccounts"), Some(false));
        assert_eq!(review.allows("delete", "", "secrets"), Some(false));
        assert_eq!(review.allows("patch", "apps", "statefulsets"), Some(false));
    }

    #[test]
    fn an_incomplete_review_allows_what_it_lists_and_cannot_tell_the_rest() {
        let review = RulesReview {
            rules: vec![rule(&["patch"], &[""], &["secrets"], &[])],
            incomplete: true,
        };
        assert_eq!(review.allows("patch", "", "secrets"), Some(true));
        assert_eq!(review.allows("create", "", "secrets"), None);
    }
}
