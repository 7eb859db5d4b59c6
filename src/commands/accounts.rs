//! The AWS accounts a run reaches: the caller's own (also the hub's), and one per
//! `--assume-role`, each with its API clients; one lookup by account id for all of them.

use crate::core::model::RoleArn;

pub(crate) struct Accounts<A> {
    /// The caller's own credentials; their account id is known only after a call.
    own: A,
    /// By account id (from the assumed role's ARN), in the order the roles were given.
    assumed: Vec<(String, A)>,
}

impl<A> Accounts<A> {
    pub(crate) fn new(own: A) -> Self {
        Accounts {
            own,
            assumed: Vec::new(),
        }
    }

    /// Add the account `role` is in, reached through `api` (which assumes it).
    pub(crate) fn assume(&mut self, role: &RoleArn, api: A) {
        self.assumed.push((role.account.clone(), api));
    }

    /// The caller's own account: the hub's, and the fallback.
    pub(crate) fn own(&self) -> &A {
        &self.own
    }

    /// Every account, the caller's own first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &A> {
        std::iter::once(&self.own).chain(self.assumed.iter().map(|(_, api)| api))
    }

    /// The assumed roles' account ids, in [`Accounts::iter`]'s order after the caller's own.
    pub(crate) fn assumed_ids(&self) -> impl Iterator<Item = &str> {
        self.assumed.iter().map(|(id, _)| id.as_str())
    }

    pub(crate) fn count(&self) -> usize {
        1 + self.assumed.len()
    }

    /// Whether an `--assume-role` reaches `account`.
    pub(crate) fn is_assumed(&self, account: &str) -> bool {
        self.assumed.iter().any(|(id, _)| id == account)
    }

    /// The clients for `account`: the assumed account with that id, else the caller's own
    /// (which is that account, or gets the answer AWS gives a stranger).
    pub(crate) fn for_account(&self, account: &str) -> &A {
        self.assumed
            .iter()
            .find(|(id, _)| id == account)
            .map_or(&self.own, |(_, api)| api)
    }

    /// The clients that really are `account`'s: the caller's own when `caller` (its id) is
    /// that account, else an assumed one; None when no credentials of this run reach it.
    pub(crate) fn reaching(&self, account: &str, caller: Option<&str>) -> Option<&A> {
        if caller == Some(account) {
            return Some(&self.own);
        }
        self.assumed
            .iter()
            .find(|(id, _)| id == account)
            .map(|(_, api)| api)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Accounts<u8> {
        let mut accounts = Accounts::new(0);
        accounts.assume(
            &RoleArn::parse("arn:aws:iam::210987654321:role/discovery").unwrap(),
            1,
        );
        accounts
    }

    #[test]
    fn lookup_by_account_id_falls_back_to_the_callers_own() {
        let accounts = accounts();
        assert_eq!(*accounts.for_account("210987654321"), 1);
        assert_eq!(*accounts.for_account("123456789012"), 0);
        assert!(accounts.is_assumed("210987654321") && !accounts.is_assumed("123456789012"));
        assert_eq!(accounts.iter().copied().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(accounts.count(), 2);
    }

    #[test]
    fn reaching_names_only_accounts_this_run_has_credentials_for() {
        let accounts = accounts();
        assert_eq!(
            accounts.reaching("123456789012", Some("123456789012")),
            Some(&0)
        );
        assert_eq!(
            accounts.reaching("210987654321", Some("123456789012")),
            Some(&1)
        );
        assert_eq!(
            accounts.reaching("999999999999", Some("123456789012")),
            None
        );
        assert_eq!(accounts.reaching("123456789012", None), None);
    }
}
