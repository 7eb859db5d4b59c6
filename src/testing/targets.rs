//! The target clusters in memory: what FakeHub's `aws_auth` and `token_user` say the other
//! clusters answer (the Targets port: aws-auth, group bindings, token reviews).

use crate::core::model::GroupBinding;
use crate::error::Result;
use crate::ports::{AwsAuth, Targets, TokenReview};

use super::FakeHub;

impl Targets for FakeHub {
    async fn aws_auth(&self, _server: &str) -> Result<AwsAuth> {
        Ok(match &self.aws_auth {
            Some(text) => AwsAuth::MapRoles(text.clone()),
            None => AwsAuth::NoContext,
        })
    }

    async fn group_bindings(&self, _server: &str) -> Result<Option<Vec<GroupBinding>>> {
        Ok(None)
    }

    async fn review_token(&self, _server: &str, _ca: &str, _token: &str) -> Result<TokenReview> {
        Ok(match &self.token_user {
            Some((username, groups)) => TokenReview::Authenticated {
                username: username.clone(),
                groups: groups.clone(),
            },
            None => TokenReview::Rejected,
        })
    }
}
