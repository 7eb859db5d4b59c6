//! AWS partitions: each one's DNS suffix and the regions EKS runs in, and the names built from them.
//!
//! The table follows botocore's `partitions.json` and `endpoints.json` (service `eks`); a test
//! holds it against the botocore the sandbox installs, so a region AWS adds shows up as a failure.

/// One AWS partition, as botocore's data describes it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Partition {
    /// The partition in ARNs: `aws`, `aws-cn`, `aws-us-gov`, ...
    pub(crate) id: &'static str,
    /// Hosts end in it: `sts.cn-north-1.amazonaws.com.cn`, `<id>.gr7.eu-west-1.eks.amazonaws.com`.
    pub(crate) dns_suffix: &'static str,
    /// The first parts of its region names (botocore's `regionRegex`): `cn` for `cn-north-1`.
    region_prefixes: &'static [&'static str],
    /// Every region EKS runs in here (`--all-regions` searches these).
    pub(crate) eks_regions: &'static [&'static str],
}

/// Every partition botocore lists.
pub(crate) const PARTITIONS: [Partition; 8] = [
    Partition {
        id: "aws",
        dns_suffix: "amazonaws.com",
        region_prefixes: &["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"],
        eks_regions: &[
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "ca-central-1",
            "ca-west-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "mx-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ],
    },
    Partition {
        id: "aws-cn",
        dns_suffix: "amazonaws.com.cn",
        region_prefixes: &["cn"],
        eks_regions: &["cn-north-1", "cn-northwest-1"],
    },
    Partition {
        id: "aws-us-gov",
        dns_suffix: "amazonaws.com",
        region_prefixes: &["us-gov"],
        eks_regions: &["us-gov-east-1", "us-gov-west-1"],
    },
    Partition {
        id: "aws-iso",
        dns_suffix: "c2s.ic.gov",
        region_prefixes: &["us-iso"],
        eks_regions: &["us-iso-east-1", "us-iso-west-1"],
    },
    Partition {
        id: "aws-iso-b",
        dns_suffix: "sc2s.sgov.gov",
        region_prefixes: &["us-isob"],
        eks_regions: &["us-isob-east-1", "us-isob-west-1"],
    },
    Partition {
        id: "aws-iso-e",
        dns_suffix: "cloud.adc-e.uk",
        region_prefixes: &["eu-isoe"],
        eks_regions: &["eu-isoe-west-1"],
    },
    Partition {
        id: "aws-iso-f",
        dns_suffix: "csp.hci.ic.gov",
        region_prefixes: &["us-isof"],
        eks_regions: &["us-isof-east-1", "us-isof-south-1"],
    },
    Partition {
        id: "aws-eusc",
        dns_suffix: "amazonaws.eu",
        region_prefixes: &["eusc-de"],
        eks_regions: &["eusc-de-east-1"],
    },
];

/// The commercial partition, where a region of no known partition falls (as the SDKs do).
pub(crate) const COMMERCIAL: &Partition = &PARTITIONS[0];

/// The IRSA audience, `sts.amazonaws.com` in every partition: the EKS pod identity webhook
/// projects tokens for it in China too (`sts.amazonaws.com.cn` fails with "Incorrect token
/// audience"; eksctl #1910, terraform-aws-eks #1704).
#[expect(
    dead_code,
    reason = "nothing reads it yet: policy::document::STS_AUDIENCE (the same value) is the one in use"
)]
pub(crate) const IRSA_AUDIENCE: &str = "sts.amazonaws.com";

impl Partition {
    /// The partition with this ARN id (`aws-cn`), if botocore knows it.
    pub(crate) fn by_id(id: &str) -> Option<&'static Self> {
        PARTITIONS.iter().find(|p| p.id == id)
    }

    /// The partition of an ARN's partition field; ARNs are parsed against this table, so an
    /// unknown id cannot reach here, and the commercial partition is the SDKs' own fallback.
    pub(crate) fn of_arn(id: &str) -> &'static Self {
        Self::by_id(id).unwrap_or(COMMERCIAL)
    }

    /// The partition a region belongs to, by botocore's region patterns
    /// (`<prefix>-<word>-<digits>`); unknown shapes fall in the commercial one.
    pub(crate) fn of_region(region: &str) -> &'static Self {
        PARTITIONS
            .iter()
            .find(|p| p.eks_regions.contains(&region))
            .or_else(|| {
                let prefix = region_prefix(region)?;
                PARTITIONS
                    .iter()
                    .find(|p| p.region_prefixes.contains(&prefix))
            })
            .unwrap_or(COMMERCIAL)
    }

    /// The regional STS host of `region`, as aws-iam-authenticator accepts it inside an EKS
    /// token: `sts.cn-north-1.amazonaws.com.cn`.
    pub(crate) fn sts_host(&self, region: &str) -> String {
        format!("sts.{region}.{}", self.dns_suffix)
    }

    /// The ARN of an EKS access policy here: `arn:aws-cn:eks::aws:cluster-access-policy/NAME`.
    pub(crate) fn access_policy_arn(&self, name: &str) -> String {
        format!("arn:{}:eks::aws:cluster-access-policy/{name}", self.id)
    }
}

/// `cn` of `cn-north-1`, `us-gov` of `us-gov-west-1`: all but the last two parts, when the
/// last is a number.
fn region_prefix(region: &str) -> Option<&str> {
    let (rest, number) = region.rsplit_once('-')?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (prefix, word) = rest.rsplit_once('-')?;
    (!word.is_empty() && !prefix.is_empty()).then_some(prefix)
}

/// The region in an EKS endpoint host, `<id>.<zone>.<region>.eks.<dns suffix>`, in any
/// partition; None for any other server.
pub(crate) fn eks_endpoint_region(server: &str) -> Option<String> {
    let host = server
        .trim()
        .strip_prefix("https://")?
        .split(['/', ':'])
        .next()?
        .to_ascii_lowercase();
    PARTITIONS.iter().find_map(|partition| {
        let before = host.strip_suffix(&format!(".eks.{}", partition.dns_suffix))?;
        let region = before.rsplit('.').next()?;
        (region_prefix(region).is_some() && Partition::of_region(region) == partition)
            .then(|| region.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_fall_in_their_partitions() {
        for (region, id) in [
            ("us-east-1", "aws"),
            ("ap-southeast-6", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-east-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
            ("cn-south-9", "aws-cn"),
            ("us-gov-north-3", "aws-us-gov"),
            ("nowhere", "aws"),
        ] {
            assert_eq!(Partition::of_region(region).id, id, "{region}");
        }
    }

    #[test]
    fn names_follow_the_partition() {
        let china = Partition::of_region("cn-north-1");
        assert_eq!(
            china.sts_host("cn-north-1"),
            "sts.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            china.access_policy_arn("AmazonEKSClusterAdminPolicy"),
            "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        );
        let gov = Partition::of_region("us-gov-west-1");
        assert_eq!(
            gov.sts_host("us-gov-west-1"),
            "sts.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(
            gov.access_policy_arn("AmazonEKSViewPolicy"),
            "arn:aws-us-gov:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
        );
    }

    #[test]
    fn endpoint_regions_in_every_partition() {
        for (server, region) in [
            (
                "https://A1B2.gr7.eu-west-1.eks.amazonaws.com",
                Some("eu-west-1"),
            ),
            (
                "https://A1B2.yl4.cn-north-1.eks.amazonaws.com.cn/",
                Some("cn-north-1"),
            ),
            (
                "https://A1B2.sk1.us-gov-west-1.eks.amazonaws.com:443",
                Some("us-gov-west-1"),
            ),
            (
                "https://A1B2.ab1.us-iso-east-1.eks.c2s.ic.gov",
                Some("us-iso-east-1"),
            ),
            (
                "https://A1B2.ab1.eusc-de-east-1.eks.amazonaws.eu",
                Some("eusc-de-east-1"),
            ),
            // A China region under the commercial suffix is no EKS endpoint.
            ("https://A1B2.yl4.cn-north-1.eks.amazonaws.com", None),
            ("https://127.0.0.1:6443", None),
            ("https://eks.amazonaws.com.example.org", None),
            ("http://A1B2.gr7.eu-west-1.eks.amazonaws.com", None),
        ] {
            assert_eq!(eks_endpoint_region(server).as_deref(), region, "{server}");
        }
    }

    /// The table against botocore's data, from the sandbox's venv (scripts/test exports
    /// ARGOCD_EKS_BOTOCORE_DATA; `python3` with botocore works too).
    #[test]
    fn table_matches_botocore() {
        let Some(dir) = botocore_data_dir() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "botocore's data is needed in CI: run scripts/test"
            );
            eprintln!(
                "skipped: no botocore data (set ARGOCD_EKS_BOTOCORE_DATA or run scripts/test)"
            );
            return;
        };
        let read = |name: &str| -> serde_json::Value {
            let text = std::fs::read_to_string(dir.join(name)).expect("botocore data file");
            serde_json::from_str(&text).expect("botocore JSON")
        };
        let partitions = read("partitions.json");
        let endpoints = read("endpoints.json");
        let listed = partitions["partitions"].as_array().expect("partitions");
        assert_eq!(
            listed.len(),
            PARTITIONS.len(),
            "botocore lists other partitions"
        );
        for p in listed {
            let id = p["id"].as_str().expect("id");
            let ours = Partition::by_id(id).unwrap_or_else(|| panic!("partition {id} is missing"));
            assert_eq!(ours.dns_suffix, p["outputs"]["dnsSuffix"], "{id}");
            for region in p["regions"].as_object().expect("regions").keys() {
                if !region.ends_with("-global") {
                    assert_eq!(Partition::of_region(region).id, id, "{region}");
                }
            }
        }
        for p in endpoints["partitions"].as_array().expect("partitions") {
            let id = p["partition"].as_str().expect("partition");
            let known = p["regions"].as_object().expect("regions");
            let mut eks: Vec<&str> = p["services"]["eks"]["endpoints"]
                .as_object()
                .map(|e| {
                    e.iter()
                        .filter(|(region, v)| {
                            known.contains_key(*region) && v.get("deprecated").is_none()
                        })
                        .map(|(region, _)| region.as_str())
                        .collect()
                })
                .unwrap_or_default();
            eks.sort_unstable();
            let ours = Partition::by_id(id).unwrap_or_else(|| panic!("partition {id} is missing"));
            assert_eq!(ours.eks_regions, eks.as_slice(), "EKS regions of {id}");
        }
    }

    fn botocore_data_dir() -> Option<std::path::PathBuf> {
        if let Some(dir) = std::env::var_os("ARGOCD_EKS_BOTOCORE_DATA") {
            return Some(dir.into());
        }
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import botocore, os; print(os.path.join(os.path.dirname(botocore.__file__), 'data'))",
            ])
            .output()
            .ok()?;
        let dir = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !dir.trim().is_empty()).then(|| dir.trim().into())
    }
}
