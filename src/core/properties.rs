//! Property tests of the pure core's readers of outside text (proptest): ARNs, the Secret name
//! derived from a cluster ARN, IAM policy documents and their evaluation, and cluster Secrets.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value;

use super::argocd_config::decode_cluster_config;
use super::arn::{ArnError, ClusterArn, RoleArn};
use super::partition::{PARTITIONS, eks_endpoint_region};
use super::policy::document::parse_policy;
use super::policy::evaluate::evaluate;
use super::policy::request::{Request, RequestPrincipal};
use super::registration::{EksRegistration, eks_registrations};
use super::secret::{ObservedSecret, argocd_secret_name, default_secret_name, valid_secret_name};

/// A partition of the table and one of its EKS regions.
fn partition_and_region() -> impl Strategy<Value = (&'static str, &'static str)> {
    (0..PARTITIONS.len()).prop_flat_map(|p| {
        let partition = &PARTITIONS[p];
        (0..partition.eks_regions.len()).prop_map(move |r| (partition.id, partition.eks_regions[r]))
    })
}

/// A valid cluster ARN: any partition, one of its regions, any account, any name EKS takes.
fn cluster_arn() -> impl Strategy<Value = ClusterArn> {
    (
        partition_and_region(),
        "[0-9]{12}",
        "[A-Za-z0-9][A-Za-z0-9_-]{0,99}",
    )
        .prop_map(|((partition, region), account, name)| {
            ClusterArn::new(partition, region, &account, &name)
        })
}

fn role_arn() -> impl Strategy<Value = RoleArn> {
    (
        0..PARTITIONS.len(),
        "[0-9]{12}",
        "([A-Za-z0-9+=,.@_-]{1,8}/){0,2}[A-Za-z0-9+=,.@_-]{1,64}",
    )
        .prop_map(|(p, account, path_and_name)| {
            RoleArn::parse(&format!(
                "arn:{}:iam::{account}:role/{path_and_name}",
                PARTITIONS[p].id
            ))
            .unwrap()
        })
}

/// Text shaped like an ARN, with every field possibly wrong.
fn arn_like() -> impl Strategy<Value = String> {
    (
        prop_oneof!["arn", "ARN", "", "arn:"],
        prop_oneof![
            "aws",
            "aws-cn",
            "aws-us-gov",
            "aws-iso-b",
            "",
            "aws-xx",
            "AWS"
        ],
        prop_oneof!["eks", "iam", "sts", "", "s3"],
        prop_oneof![
            "us-east-1",
            "cn-north-1",
            "us-gov-west-1",
            "",
            "[a-zA-Z0-9_!.-]{0,16}"
        ],
        "[0-9]{0,13}",
        prop_oneof![
            "cluster/[A-Za-z0-9_./-]{0,12}",
            "role/[A-Za-z0-9_./-]{0,12}",
            "assumed-role/[a-z]{1,5}/[a-z]{1,5}",
            ".{0,12}"
        ],
    )
        .prop_map(|(a, p, s, r, n, res)| format!("{a}:{p}:{s}:{r}:{n}:{res}"))
}

/// JSON whose objects use the keys `keys` (and others), nested a few levels.
fn json_with(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            "\\*",
            "sts:AssumeRole",
            "sts:TagSession",
            "Allow",
            "Deny",
            "arn:aws:iam::123456789012:role/x",
            "pods.eks.amazonaws.com",
            "2012-10-17"
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        let key = prop_oneof![
            (0..keys.len()).prop_map(move |i| keys[i].to_owned()),
            "[A-Za-z:/*]{0,10}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

const POLICY_KEYS: &[&str] = &[
    "Version",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "AWS",
    "Service",
    "Federated",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "StringEquals",
    "StringLike",
    "ArnLike",
    "ForAnyValue:StringEquals",
    "StringEqualsIfExists",
    "Null",
    "Bool",
    "aws:PrincipalArn",
    "aws:RequestTag/kubernetes-namespace",
    "aws:TagKeys",
];

const CONFIG_KEYS: &[&str] = &[
    "awsAuthConfig",
    "clusterName",
    "roleARN",
    "roleArn",
    "profile",
    "tlsClientConfig",
    "caData",
    "insecure",
    "serverName",
    "execProviderConfig",
    "bearerToken",
];

fn request() -> impl Strategy<Value = Request> {
    (
        prop_oneof![
            "sts:AssumeRole",
            "sts:TagSession",
            "sts:AssumeRoleWithWebIdentity",
            "[a-z]{1,4}:[A-Za-z*]{0,8}"
        ],
        prop_oneof![
            ".{0,20}".prop_map(RequestPrincipal::Aws),
            Just(RequestPrincipal::Service("pods.eks.amazonaws.com".into())),
            ".{0,20}".prop_map(RequestPrincipal::Federated),
        ],
        prop::collection::btree_map(
            prop_oneof!["aws:PrincipalArn", "aws:RequestTag/[a-z-]{1,8}", ".{0,10}"],
            prop::collection::vec(".{0,10}", 0..3),
            0..4,
        ),
    )
        .prop_map(|(action, principal, context)| {
            let mut request = Request::new(&action, principal);
            request.context = context;
            request
        })
}

/// A Secret's data: the keys Argo CD reads, with text, JSON-ish text or ARNs as values.
fn secret_data() -> impl Strategy<Value = BTreeMap<String, String>> {
    let value = prop_oneof![
        ".{0,30}",
        json_with(CONFIG_KEYS).prop_map(|v| v.to_string()),
        cluster_arn().prop_map(|a| a.to_string()),
        prop_oneof![
            "https://[A-F0-9]{8}\\.gr7\\.[a-z]{2}-[a-z]{4,7}-[1-9]\\.eks\\.amazonaws\\.com(\\.cn)?",
            "https?://[a-z.\\[\\]:0-9]{0,20}(/.{0,5})?"
        ],
    ];
    prop::collection::btree_map(
        prop_oneof![
            Just("name".to_owned()),
            Just("server".to_owned()),
            Just("config".to_owned()),
            Just("namespaces".to_owned()),
            Just("project".to_owned()),
            Just("clusterResources".to_owned()),
            ".{0,8}",
        ],
        value,
        0..7,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arn_parsers_never_panic(text in prop_oneof![arn_like(), ".{0,80}"]) {
        let _ = ClusterArn::parse(&text);
        let _ = RoleArn::parse(&text);
    }

    #[test]
    fn cluster_arns_round_trip(arn in cluster_arn()) {
        prop_assert_eq!(ClusterArn::parse(&arn.to_string()), Ok(arn));
    }

    #[test]
    fn role_arns_round_trip(arn in role_arn()) {
        let again = RoleArn::parse(&arn.to_string()).unwrap();
        prop_assert_eq!(again.name(), arn.path_and_name.rsplit('/').next().unwrap());
        prop_assert_eq!(again, arn);
    }

    #[test]
    fn an_arn_of_the_other_kind_is_refused(cluster in cluster_arn(), role in role_arn()) {
        // Refused, and named as the other kind (bad_input's messages depend on it).
        prop_assert!(matches!(
            RoleArn::parse(&cluster.to_string()),
            Err(ArnError::ClusterNotRole(_))
        ));
        prop_assert!(matches!(
            ClusterArn::parse(&role.to_string()),
            Err(ArnError::RoleNotCluster(_))
        ));
    }

    #[test]
    fn a_region_in_another_partition_is_refused(
        (partition, region) in partition_and_region(),
        other in 0..PARTITIONS.len(),
    ) {
        let other = PARTITIONS[other].id;
        prop_assume!(other != partition);
        let text = format!("arn:{other}:eks:{region}:123456789012:cluster/c");
        let refused = matches!(
            ClusterArn::parse(&text),
            Err(ArnError::WrongPartition { expected, .. }) if expected == partition
        );
        prop_assert!(refused, "{}", text);
    }

    #[test]
    fn secret_names_are_valid_stable_and_distinct(a in cluster_arn(), b in cluster_arn()) {
        let name = default_secret_name(&a);
        prop_assert!(valid_secret_name(&name), "{}", name);
        prop_assert!(name.len() <= 253);
        prop_assert!(name.starts_with("eks-"));
        prop_assert_eq!(&name, &default_secret_name(&a.clone()));
        if a != b {
            prop_assert_ne!(name, default_secret_name(&b));
        }
    }

    #[test]
    fn secret_names_of_any_parsed_arn_are_valid(text in arn_like()) {
        if let Ok(arn) = ClusterArn::parse(&text) {
            let name = default_secret_name(&arn);
            prop_assert!(valid_secret_name(&name), "{} -> {}", text, name);
        }
    }

    #[test]
    fn a_parsed_arn_with_any_region_text_names_a_valid_secret(
        partition in prop_oneof!["aws", "aws-cn", "aws-us-gov"],
        region in ".{1,20}",
        name in "[A-Za-z0-9][A-Za-z0-9_-]{0,20}",
    ) {
        let text = format!("arn:{partition}:eks:{region}:123456789012:cluster/{name}");
        if let Ok(arn) = ClusterArn::parse(&text) {
            let secret = default_secret_name(&arn);
            prop_assert!(valid_secret_name(&secret), "{} -> {}", text, secret);
        }
    }

    #[test]
    fn server_readers_never_panic(server in prop_oneof![".{0,40}", "https?://.{0,30}"]) {
        let _ = argocd_secret_name(&server);
        let _ = eks_endpoint_region(&server);
    }

    #[test]
    fn policy_parsing_never_panics(text in prop_oneof![
        ".{0,60}",
        json_with(POLICY_KEYS).prop_map(|v| v.to_string()),
    ]) {
        let _ = parse_policy(&text);
    }

    #[test]
    fn evaluation_never_panics_and_is_deterministic(
        documents in prop::collection::vec(json_with(POLICY_KEYS), 1..3),
        request in request(),
    ) {
        let parsed: Vec<_> = documents
            .iter()
            .filter_map(|d| parse_policy(&d.to_string()).ok())
            .collect();
        let first = evaluate(&parsed, &request);
        prop_assert_eq!(first, evaluate(&parsed, &request));
    }

    #[test]
    fn secret_readers_never_panic(
        data in secret_data(),
        labels in prop::collection::btree_map(
            prop_oneof![Just("app.kubernetes.io/managed-by".to_owned()), ".{0,10}"],
            ".{0,20}",
            0..3,
        ),
    ) {
        let secret = ObservedSecret {
            namespace: "argocd".into(),
            name: "s".into(),
            labels,
            data,
            ..ObservedSecret::default()
        };
        if let Some(config) = secret.data.get("config") {
            let _ = decode_cluster_config(config);
        }
        let _ = secret.config_error();
        let _ = secret.managed_by_us();
        let _ = secret.made_by_argocd();
        if let Some(registration) = EksRegistration::from_secret(&secret) {
            let _ = registration.describe();
            let _ = registration.principal(Some("arn:aws:iam::123456789012:role/m"));
            let _ = registration.reaches(
                &ClusterArn::new("aws", "us-east-1", "123456789012", "c"),
                "https://x",
            );
        }
        let all = eks_registrations(&[secret.clone(), secret]);
        prop_assert!(all.len() <= 2);
    }
}
