//! `doctor`: check every link from Argo CD to each target and name the fix for each failure.

use crate::cli::output::doctor::DoctorReport;
use crate::cli::output::emit;
use crate::cli::settings::{DoctorSettings, Settings};
use crate::commands::Ports;
use crate::commands::registered::named;
use crate::commands::targets::{
    argocd_namespace, find_hub_cluster, pod_identity_agent, search_regions,
};
use crate::core::checks::{
    Connection, HubFacts, RoleFacts, TargetFacts, detect_identity, hub_checks, identity_checks,
    native_target, pods_role, target_checks,
};
use crate::core::model::{
    ARGOCD_SERVICE_ACCOUNTS, AuthenticationMode, ClusterArn, EksCluster, IdentityMode, Lookup,
    RoleArn,
};
use crate::core::policy::document::parse_policy;
use crate::core::policy::generate::NamedPolicy;
use crate::core::registration::{EksRegistration, Format, eks_registrations};
use crate::core::secret::ObservedSecret;
use crate::error::{Error, Result};
use crate::ports::{AwsAuth, EksRead, HubRead, IamRead, Prompt, Targets, TokenMinter, TokenReview};

pub(crate) async fn run<H: HubRead + Targets, A: EksRead + IamRead + TokenMinter, P: Prompt>(
    settings: &Settings,
    doctor: &DoctorSettings,
    ports: Ports<'_, H, A, P>,
    default_region: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let namespace = argocd_namespace(ports.hub, settings).await?;
    let secrets = ports.hub.cluster_secrets(&namespace).await?;
    let registrations = eks_registrations(&secrets);
    let chosen: Vec<&EksRegistration> = if doctor.clusters.is_empty() {
        registrations.iter().collect()
    } else {
        named(&registrations, &doctor.clusters, &namespace)?
    };
    let caller_account = ports.accounts.own().caller().await.ok().map(|c| c.account);
    let caller = caller_account.as_deref();
    let mut hub = hub_facts(&ports, &namespace, settings, default_region, caller).await?;
    hub.capability_role = doctor.capability_role.clone();
    hub.capability = !chosen.is_empty() && chosen.iter().all(|r| r.format == Format::Capability);
    let chosen_secrets: Vec<&ObservedSecret> = chosen
        .iter()
        .filter_map(|r| secrets.iter().find(|s| s.name == r.secret))
        .collect();
    // The fixes doctor prints are for every Secret it checks, so that they do not undo each other.
    hub.target_roles = chosen_secrets
        .iter()
        .filter_map(|s| s.config()?.aws_auth_config?.role_arn)
        .filter_map(|text| RoleArn::parse(&text).ok())
        .collect();
    let mut sections = vec![hub_checks(&hub), identity_checks(&hub)];

    for secret in chosen_secrets {
        let target = target_facts(&ports, &hub, secret, caller_account.as_deref()).await;
        sections.push(target_checks(&hub, &target));
    }

    let report = DoctorReport { sections };
    emit(out, settings.output, &report)?;
    let problems = report.problems();
    if problems > 0 {
        return Err(Error::ProblemsFound(problems));
    }
    Ok(())
}

/// The cluster a Secret names by ARN in `server` (the EKS Argo CD capability's format).
fn capability_cluster(secret: &ObservedSecret) -> Option<ClusterArn> {
    secret
        .server()
        .and_then(|server| ClusterArn::parse(server).ok())
}

/// A role as IAM has it; None when it cannot be read, or a document of it cannot be parsed (a
/// policy left out could hold the Deny that decides).
pub(crate) async fn role_facts<I: IamRead>(iam: &I, arn: &RoleArn) -> Option<RoleFacts> {
    let role = iam.role(arn.name()).await.ok()?;
    let Some(role) = role else {
        return Some(RoleFacts {
            arn: arn.clone(),
            trust: None,
            permissions: Vec::new(),
        });
    };
    let trust = Some(parse_policy(&role.trust_policy).ok()?);
    let permissions = iam
        .role_policies(arn.name())
        .await
        .ok()?
        .into_iter()
        .map(|p| {
            parse_policy(&p.document).ok().map(|document| NamedPolicy {
                name: p.name,
                document,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(RoleFacts {
        arn: arn.clone(),
        trust,
        permissions,
    })
}

/// Read the hub: service accounts, access, its EKS cluster, identity, role, pods. A read that
/// fails becomes "cannot tell" for the checks that need it, not an error.
async fn hub_facts<H: HubRead, A: EksRead + IamRead, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    namespace: &str,
    settings: &Settings,
    default_region: Option<&str>,
    caller: Option<&str>,
) -> Result<HubFacts> {
    let hub_aws = ports.accounts.own();
    let service_accounts = ports.hub.service_accounts(namespace).await?;
    let may_create_secrets = ports
        .hub
        .can_i(namespace, "create", "", "secrets")
        .await
        .ok();
    let regions = search_regions(
        &settings.aws.regions,
        settings.aws.all_regions,
        default_region,
    )
    .unwrap_or_default();
    let hub_arn = if regions.is_empty() {
        None
    } else {
        find_hub_cluster(ports.hub.context(), hub_aws, None, &regions)
            .await
            .ok()
            .flatten()
    };
    let mut facts = HubFacts {
        namespace: namespace.to_owned(),
        service_accounts,
        may_create_secrets,
        ..HubFacts::default()
    };
    if let Some(arn) = &hub_arn {
        facts.hub_cluster = hub_aws
            .describe_cluster(&arn.region, &arn.name)
            .await
            .ok()
            .flatten();
        let described = facts.hub_cluster.as_ref().map(Some);
        facts.pod_identity_agent = pod_identity_agent(ports.hub, hub_aws, arn, described).await;
        match hub_aws.pod_identity_associations(arn, namespace).await {
            Ok(associations) => facts.associations = associations,
            Err(e) => facts.associations_unread = Some(e.to_string()),
        }
    }
    let names: Vec<&str> = ARGOCD_SERVICE_ACCOUNTS.iter().map(|(n, _)| *n).collect();
    facts.pods = ports
        .hub
        .pods(namespace)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|pod| names.contains(&pod.service_account.as_str()))
        .collect();
    if let Some((mode, role)) = detect_identity(&facts) {
        // The management role, and the OIDC provider IRSA's trust names, are in the role's
        // account, which need not be the hub cluster's or the caller's.
        if let Ok(arn) = RoleArn::parse(&role)
            && let Some(iam) = ports.accounts.reaching(&arn.account, caller)
        {
            facts.management_role = role_facts(iam, &arn).await;
            if mode == IdentityMode::Irsa {
                facts.oidc_providers = iam.oidc_providers().await.ok();
            }
        }
        // Native chaining: the pods end up with the association's target role.
        if let Some(Ok(target)) = native_target(&facts).map(RoleArn::parse) {
            facts.native_target_role =
                role_facts(ports.accounts.for_account(&target.account), &target).await;
        }
        facts.identity_changed_at = match mode {
            IdentityMode::Irsa => facts
                .service_accounts
                .iter()
                .filter_map(|sa| sa.irsa_changed_at)
                .max(),
            IdentityMode::PodIdentity => {
                facts.associations.iter().filter_map(|a| a.changed_at).max()
            }
            IdentityMode::Capability => None,
        };
    }
    Ok(facts)
}

/// Read what the checks of one registered cluster need, in the cluster's account when reachable.
async fn target_facts<H: HubRead + Targets, A: EksRead + IamRead + TokenMinter, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    hub: &HubFacts,
    secret: &ObservedSecret,
    caller_account: Option<&str>,
) -> TargetFacts {
    let config = secret.config();
    let auth = config.and_then(|c| c.aws_auth_config);
    let cluster_arn = capability_cluster(secret).or_else(|| {
        secret
            .data
            .get("name")
            .and_then(|name| ClusterArn::parse(name).ok())
    });
    let reachable = |account: &str| ports.accounts.reaching(account, caller_account).is_some();
    let mut target = TargetFacts {
        secret: secret.clone(),
        cluster_arn: cluster_arn.clone(),
        described: Lookup::Unknown,
        target_role: None,
        access_entry: Lookup::Unknown,
        connection: None,
        aws_auth: Lookup::Unknown,
        group_bindings: None,
    };
    let Some(arn) = cluster_arn.filter(|arn| reachable(&arn.account)) else {
        return target;
    };
    let aws = ports.accounts.for_account(&arn.account);
    target.described = Lookup::from_read(aws.describe_cluster(&arn.region, &arn.name).await);
    let role = auth
        .and_then(|a| a.role_arn)
        .and_then(|text| RoleArn::parse(&text).ok());
    if let Some(role) = &role
        && reachable(&role.account)
    {
        target.target_role = role_facts(ports.accounts.for_account(&role.account), role).await;
    }
    let principal = if hub.capability {
        hub.capability_role.clone()
    } else {
        role.or_else(|| pods_role(hub).and_then(|role| RoleArn::parse(&role).ok()))
    };
    let described = target.described.found().cloned();
    let mode = described.as_ref().and_then(|c| c.authentication_mode);
    if let Some(principal) = principal
        .clone()
        .filter(|_| mode.is_some_and(|m| m.allows_access_entries()))
    {
        target.access_entry =
            Lookup::from_read(aws.access_entry(&arn, &principal.to_string()).await);
    }
    // aws-auth counts where the cluster reads it and no access entry of the role shadows it.
    let reads_aws_auth = match mode {
        Some(AuthenticationMode::ConfigMap) => true,
        Some(AuthenticationMode::ApiAndConfigMap) => target.access_entry == Lookup::Absent,
        _ => false,
    };
    if let (true, Some(cluster)) = (reads_aws_auth, &described) {
        target.aws_auth = match ports.hub.aws_auth(&cluster.endpoint).await {
            Ok(AwsAuth::MapRoles(text)) => Lookup::Found(text),
            Ok(AwsAuth::Missing) => Lookup::Absent,
            Ok(AwsAuth::NoContext) | Err(_) => Lookup::Unknown,
        };
    }
    // RBAC decides when the role's rights are only Kubernetes groups (an entry without a
    // policy, or an aws-auth mapping).
    let groups_only = matches!(target.access_entry.found(), Some(entry)
        if entry.policies.is_empty() && !entry.kubernetes_groups.is_empty())
        || target.aws_auth.found().is_some();
    if let (true, Some(cluster)) = (groups_only, &described) {
        target.group_bindings = ports
            .hub
            .group_bindings(&cluster.endpoint)
            .await
            .ok()
            .flatten();
    }
    target.connection = connect(
        ports,
        hub,
        secret,
        &arn,
        described.as_ref(),
        principal.as_ref(),
    )
    .await;
    target
}

/// Connect as Argo CD would: assume the management role (and the target role when chained),
/// make the EKS token, and ask the cluster who that is, trusting only the Secret's CA.
async fn connect<H: HubRead + Targets, A: EksRead + IamRead + TokenMinter, P: Prompt>(
    ports: &Ports<'_, H, A, P>,
    hub: &HubFacts,
    secret: &ObservedSecret,
    arn: &ClusterArn,
    described: Option<&EksCluster>,
    principal: Option<&RoleArn>,
) -> Option<Connection> {
    let (chain, cluster_name, server, ca_data) = if hub.capability {
        // The capability reaches the cluster as its role, at the endpoint EKS describes.
        let cluster = described?;
        (
            vec![principal?.clone()],
            arn.name.clone(),
            cluster.endpoint.clone(),
            cluster.ca_data.clone(),
        )
    } else {
        let management = detect_identity(hub).and_then(|(_, role)| RoleArn::parse(&role).ok())?;
        // Native chaining: the pods get the target role from EKS, so the chain passes it.
        let native = native_target(hub).and_then(|role| RoleArn::parse(role).ok());
        let config = secret.config()?;
        let mut chain = vec![management.clone()];
        chain.extend(native);
        if let Some(principal) = principal
            && chain.last() != Some(principal)
        {
            chain.push(principal.clone());
        }
        (
            chain,
            config.aws_auth_config?.cluster_name,
            secret.server()?.to_owned(),
            config.tls_client_config.ca_data?,
        )
    };
    let token = match ports
        .accounts
        .own()
        .eks_token(&chain, &cluster_name, &arn.region)
        .await
    {
        Ok(token) => token,
        Err(e) => return Some(Connection::CannotAssume(e.to_string())),
    };
    Some(
        match ports.hub.review_token(&server, &ca_data, &token).await {
            Ok(TokenReview::Authenticated { username, groups }) => {
                Connection::Authenticated { username, groups }
            }
            Ok(TokenReview::Rejected) => Connection::Rejected,
            Err(Error::Connect { message, .. }) if message.contains("certificate") => {
                Connection::UntrustedCertificate(message)
            }
            Err(e) => Connection::Unreachable(e.to_string()),
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::commands::accounts::Accounts;
    use crate::commands::add;
    use crate::error::{Error, Result};
    use crate::testing::{FakeAws, FakeHub, FakePrompt, MANAGEMENT, eks_cluster, run_tool};

    const ACCOUNT: &str = "123456789012";

    async fn doctor(
        hub: &FakeHub,
        accounts: &Accounts<FakeAws>,
        args: &[&str],
    ) -> (Result<()>, String) {
        let all = [
            &[
                "doctor",
                "--argocd-namespace",
                "argocd",
                "--region",
                "eu-west-1",
            ],
            args,
        ]
        .concat();
        run_tool(hub, accounts, &FakePrompt::default(), &all, false).await
    }

    async fn registered() -> (FakeHub, Accounts<FakeAws>) {
        let mut hub = FakeHub::with_argocd("argocd");
        hub.token_user = Some((
            "arn:aws:sts::123456789012:assumed-role/argocd-management/x".into(),
            vec!["system:masters".into()],
        ));
        let accounts = Accounts::new(FakeAws::in_account(
            ACCOUNT,
            vec![eks_cluster(ACCOUNT, "eu-west-1", "prod")],
        ));
        add::tests::registered(&hub, &accounts, &["prod"]).await;
        (hub, accounts)
    }

    fn problems(result: &Result<()>) -> usize {
        match result {
            Err(Error::ProblemsFound(n)) => *n,
            Ok(()) => 0,
            Err(e) => panic!("{e}"),
        }
    }

    #[tokio::test]
    async fn each_broken_link_is_a_failure_with_its_fix() {
        let (mut hub, accounts) = registered().await;
        let (result, out) = doctor(&hub, &accounts, &[]).await;
        // What cannot be read (the hub's EKS cluster, the role) is "??", not a failure.
        assert_eq!(problems(&result), 0, "{out}");
        assert!(
            out.contains("  ok   server and caData match DescribeCluster"),
            "{out}"
        );
        assert!(out.contains("  ok   the target lets the role in"), "{out}");
        assert!(
            out.contains(
                "  ok   Argo CD's token is accepted by the cluster (connect): authenticated as"
            ),
            "{out}"
        );
        assert!(out.contains("  ??   the management role trusts"), "{out}");

        accounts.own().entries.borrow_mut().clear();
        hub.token_user = None;
        // API_AND_CONFIG_MAP: without an entry, aws-auth could still let the role in; it does not.
        hub.aws_auth = Some("[]".into());
        let (result, out) = doctor(&hub, &accounts, &[]).await;
        assert_eq!(problems(&result), 2, "{out}");
        assert!(out.contains("  FAIL the target lets the role in"), "{out}");
        assert!(
            out.contains(&format!("no access entry for {MANAGEMENT}")),
            "{out}"
        );
        assert!(
            out.contains("fix: aws eks create-access-entry --cluster-name prod --region eu-west-1"),
            "{out}"
        );
        assert!(
            out.contains("  FAIL Argo CD's token is accepted by the cluster (connect)"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn a_document_lists_the_sections_and_unknown_clusters_are_not_found() {
        let (hub, accounts) = registered().await;
        let (result, out) = doctor(&hub, &accounts, &["-o", "json"]).await;
        assert_eq!(problems(&result), 0);
        let sections: serde_json::Value = serde_json::from_str(&out).unwrap();
        let titles: Vec<&str> = sections
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles.len(), 3, "hub, identity, one target: {titles:?}");
        assert!(
            titles[2].starts_with("arn:aws:eks:eu-west-1:123456789012:cluster/prod"),
            "{titles:?}"
        );

        let (result, _) = doctor(&hub, &accounts, &["nope"]).await;
        assert!(matches!(result, Err(Error::NotFound { .. })), "{result:?}");
    }
}
