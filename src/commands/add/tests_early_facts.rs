//! Which `add` runs send the check's reads before the plan: only those whose flags and kube
//! context give all the reads depend on.

use super::tests_checks::{DEPLOYER, hub_and_aws};
use crate::testing::MANAGEMENT;

fn add_settings(args: &[&str]) -> crate::cli::settings::AddSettings {
    let argv = [&["add", "prod", "--region", "eu-west-1"][..], args].concat();
    match crate::testing::settings(&argv, true).command {
        crate::cli::settings::CommandSettings::Add(add) => *add,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_checks_reads_go_out_first_only_when_the_flags_fix_all_they_depend_on() {
    use super::preflight::early_facts_inputs;
    use crate::core::model::IdentityMode;
    let (hub, _) = hub_and_aws();
    let fixed = ["--identity", "irsa", "--management-role-arn", MANAGEMENT];
    let inputs = early_facts_inputs(&add_settings(&fixed), &hub.context).unwrap();
    assert_eq!(inputs.mode, IdentityMode::Irsa);
    assert_eq!(inputs.management_role.to_string(), MANAGEMENT);
    assert_eq!(inputs.hub_cluster.unwrap().name, "hub");
    assert!(inputs.targets.is_empty() && inputs.native_target.is_none());
    let with_target = [&fixed[..], &["--role-arn", DEPLOYER]].concat();
    let inputs = early_facts_inputs(&add_settings(&with_target), &hub.context).unwrap();
    assert_eq!(inputs.targets.len(), 1);
    // Detected, asked for, chained or looked up: known only later.
    for args in [
        &["--management-role-arn", MANAGEMENT][..],
        &["--identity", "irsa"],
        &[
            "--identity",
            "pod-identity",
            "--management-role-arn",
            MANAGEMENT,
            "--role-arn",
            DEPLOYER,
            "--native-chaining",
        ],
        &[&fixed[..], &["--hub-cluster", "another"]].concat(),
    ] {
        assert!(
            early_facts_inputs(&add_settings(args), &hub.context).is_none(),
            "{args:?}"
        );
    }
    let mut unnamed = hub.context.clone();
    unnamed.context = "sandbox".into();
    unnamed.cluster = "sandbox".into();
    assert!(early_facts_inputs(&add_settings(&fixed), &unnamed).is_none());
}
