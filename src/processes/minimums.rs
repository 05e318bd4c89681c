//! The first SDK versions that support each credential feature `credcheck processes` checks
//! (issue 23): one cited table. A process whose detected SDK is older than the row for a
//! feature its environment uses gets `sdk-rejects-endpoint`.
//!
//! Owns: [`MINIMUMS`] and the version comparison. Reads no env vars.
//! The sources are listed in `docs/sdk-minimums.md` (each row's `source` names one).

/// An AWS SDK (or the package of it whose version decides), as detection names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sdk {
    /// `github.com/aws/aws-sdk-go` (Go build info).
    GoV1,
    /// `github.com/aws/aws-sdk-go-v2/credentials` (Go build info): the container and web
    /// identity providers live in this module, so its version decides.
    GoV2Credentials,
    /// `github.com/aws/aws-sdk-go-v2/config`: the chain that selects them.
    GoV2Config,
    /// `github.com/aws/aws-sdk-go-v2/feature/ec2/imds`.
    GoV2Imds,
    /// `aws-java-sdk-core-1.x.jar`.
    JavaV1,
    /// `sdk-core-2.x.jar` (every module of v2 shares one version).
    JavaV2,
    /// botocore's `*.dist-info` (boto3 and the AWS CLI v1 take their chain from it).
    Botocore,
    /// npm `aws-sdk` (v2).
    JsV2,
    /// JS v3. The package whose version decides is npm `@aws-sdk/credential-provider-node`
    /// (the default chain every v3 client uses; it pulls in `@aws-sdk/credential-provider-http`
    /// for container credentials), not `@aws-sdk/credential-providers`, which only re-exports
    /// it and is absent from most apps. Its versions follow the v3 release numbers (`3.503.1`).
    JsV3,
    /// crates.io `aws-config`.
    RustAwsConfig,
}

/// A feature of the credential chain a process's environment makes its SDK use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI` at EKS Pod Identity's 169.254.170.23 or fd00:ec2::23.
    PodIdentityHost,
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`.
    TokenFile,
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI` at all (a loopback http host).
    FullUri,
    /// IMDSv2 (the session token PUT).
    Imdsv2,
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` from the environment (IRSA).
    WebIdentityEnv,
}

/// One row: `sdk` supports `feature` from `version` on.
#[derive(Clone, Copy, Debug)]
pub struct Minimum {
    pub sdk: Sdk,
    pub feature: Feature,
    /// The first version with the feature, as the package names its versions (`1.47.11`,
    /// `2.21.30`, `release-2023-11-14` is not used: Go v2 rows give the module's version).
    pub version: &'static str,
    /// Where this is stated: a short key of `docs/sdk-minimums.md`'s source list.
    pub source: &'static str,
}

/// The table. A (sdk, feature) pair that is not here is "no known minimum": never flagged.
pub const MINIMUMS: &[Minimum] = &[
    Minimum {
        sdk: Sdk::GoV1,
        feature: Feature::PodIdentityHost,
        version: "1.47.11",
        source: "go1-1.47.11",
    },
    Minimum {
        sdk: Sdk::GoV1,
        feature: Feature::TokenFile,
        version: "1.47.11",
        source: "go1-1.47.11",
    },
    Minimum {
        sdk: Sdk::GoV1,
        feature: Feature::FullUri,
        version: "1.8.13",
        source: "go1-pr1196",
    },
    Minimum {
        sdk: Sdk::GoV1,
        feature: Feature::Imdsv2,
        version: "1.25.38",
        source: "ec2-imdsv2",
    },
    Minimum {
        sdk: Sdk::GoV1,
        feature: Feature::WebIdentityEnv,
        version: "1.21.0",
        source: "go1-pr2667",
    },
    Minimum {
        sdk: Sdk::GoV2Credentials,
        feature: Feature::PodIdentityHost,
        version: "1.16.0",
        source: "go2-credentials-1.16.0",
    },
    Minimum {
        sdk: Sdk::GoV2Credentials,
        feature: Feature::TokenFile,
        version: "1.16.0",
        source: "go2-credentials-1.16.0",
    },
    Minimum {
        sdk: Sdk::GoV2Config,
        feature: Feature::PodIdentityHost,
        version: "1.25.0",
        source: "go2-config-1.25.0",
    },
    Minimum {
        sdk: Sdk::GoV2Config,
        feature: Feature::TokenFile,
        version: "1.25.0",
        source: "go2-config-1.25.0",
    },
    Minimum {
        sdk: Sdk::JavaV1,
        feature: Feature::PodIdentityHost,
        version: "1.12.746",
        source: "eks-pod-id",
    },
    Minimum {
        sdk: Sdk::JavaV1,
        feature: Feature::TokenFile,
        version: "1.12.746",
        source: "eks-pod-id",
    },
    Minimum {
        sdk: Sdk::JavaV1,
        feature: Feature::Imdsv2,
        version: "1.11.678",
        source: "ec2-imdsv2",
    },
    Minimum {
        sdk: Sdk::JavaV1,
        feature: Feature::WebIdentityEnv,
        version: "1.11.704",
        source: "java1-1.11.704",
    },
    Minimum {
        sdk: Sdk::JavaV2,
        feature: Feature::PodIdentityHost,
        version: "2.21.30",
        source: "eks-pod-id",
    },
    Minimum {
        sdk: Sdk::JavaV2,
        feature: Feature::TokenFile,
        version: "2.21.30",
        source: "eks-pod-id",
    },
    Minimum {
        sdk: Sdk::JavaV2,
        feature: Feature::Imdsv2,
        version: "2.10.21",
        source: "ec2-imdsv2",
    },
    Minimum {
        sdk: Sdk::JavaV2,
        feature: Feature::WebIdentityEnv,
        version: "2.10.11",
        source: "java2-2.10.11",
    },
    Minimum {
        sdk: Sdk::Botocore,
        feature: Feature::PodIdentityHost,
        version: "1.34.41",
        source: "botocore-1.34.41",
    },
    Minimum {
        sdk: Sdk::Botocore,
        feature: Feature::TokenFile,
        version: "1.34.41",
        source: "botocore-1.34.41",
    },
    Minimum {
        sdk: Sdk::Botocore,
        feature: Feature::FullUri,
        version: "1.5.27",
        source: "botocore-1.5.27",
    },
    Minimum {
        sdk: Sdk::Botocore,
        feature: Feature::Imdsv2,
        version: "1.13.25",
        source: "ec2-imdsv2",
    },
    Minimum {
        sdk: Sdk::Botocore,
        feature: Feature::WebIdentityEnv,
        version: "1.12.200",
        source: "eks-irsa",
    },
    Minimum {
        sdk: Sdk::JsV2,
        feature: Feature::PodIdentityHost,
        version: "2.1550.0",
        source: "jsv2-2.1550.0",
    },
    Minimum {
        sdk: Sdk::JsV2,
        feature: Feature::TokenFile,
        version: "2.1550.0",
        source: "jsv2-2.1550.0",
    },
    Minimum {
        sdk: Sdk::JsV2,
        feature: Feature::FullUri,
        version: "2.63.0",
        source: "jsv2-d3fa3a6",
    },
    Minimum {
        sdk: Sdk::JsV2,
        feature: Feature::Imdsv2,
        version: "2.575.0",
        source: "jsv2-2.575.0",
    },
    Minimum {
        sdk: Sdk::JsV2,
        feature: Feature::WebIdentityEnv,
        version: "2.518.0",
        source: "jsv2-2.518.0",
    },
    Minimum {
        sdk: Sdk::JsV3,
        feature: Feature::PodIdentityHost,
        version: "3.503.1",
        source: "jsv3-3.503.1",
    },
    Minimum {
        sdk: Sdk::JsV3,
        feature: Feature::TokenFile,
        version: "3.503.1",
        source: "jsv3-3.503.1",
    },
    Minimum {
        sdk: Sdk::JsV3,
        feature: Feature::WebIdentityEnv,
        version: "3.27.0",
        source: "eks-irsa",
    },
    Minimum {
        sdk: Sdk::RustAwsConfig,
        feature: Feature::PodIdentityHost,
        version: "1.1.8",
        source: "rust-3416",
    },
    Minimum {
        sdk: Sdk::RustAwsConfig,
        feature: Feature::TokenFile,
        version: "1.1.8",
        source: "rust-3416",
    },
];

impl Sdk {
    /// The package name a user would look for (the one whose version is compared).
    pub fn name(self) -> &'static str {
        match self {
            Sdk::GoV1 => "github.com/aws/aws-sdk-go",
            Sdk::GoV2Credentials => "github.com/aws/aws-sdk-go-v2/credentials",
            Sdk::GoV2Config => "github.com/aws/aws-sdk-go-v2/config",
            Sdk::GoV2Imds => "github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
            Sdk::JavaV1 => "aws-java-sdk-core",
            Sdk::JavaV2 => "software.amazon.awssdk:sdk-core",
            Sdk::Botocore => "botocore",
            Sdk::JsV2 => "aws-sdk (npm)",
            Sdk::JsV3 => "@aws-sdk/credential-provider-node",
            Sdk::RustAwsConfig => "aws-config (crate)",
        }
    }
}

/// The row for `sdk` and `feature`, or `None`: no known minimum (never flagged).
pub fn minimum(sdk: Sdk, feature: Feature) -> Option<&'static Minimum> {
    MINIMUMS
        .iter()
        .find(|row| row.sdk == sdk && row.feature == feature)
}

/// Compares two dotted numeric versions (`1.47.10`, `v1.16.0`, `2.1550.0`): missing parts
/// count as 0 (`1.2` = `1.2.0`); a leading `v` is allowed; a suffix after `-` (pre-release)
/// or `+` (build) is left out of the numeric compare, but a pre-release is lower than the
/// release of the same numbers (`1.2.0-rc1` < `1.2.0`; two pre-releases compare equal).
/// `None` when either is not such a version (`1.2.3rc1`, `(devel)`, empty): never a guess.
pub fn compare(version: &str, minimum: &str) -> Option<std::cmp::Ordering> {
    let (a, a_pre) = parse_version(version)?;
    let (b, b_pre) = parse_version(minimum)?;
    let len = a.len().max(b.len());
    let part = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    let numeric = (0..len)
        .map(|i| part(&a, i).cmp(&part(&b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal);
    // A pre-release comes before its release: `true` (pre) orders below `false`.
    Some(numeric.then(b_pre.cmp(&a_pre)))
}

/// The numeric parts and whether a pre-release suffix follows them.
fn parse_version(version: &str) -> Option<(Vec<u64>, bool)> {
    let version = version.strip_prefix('v').unwrap_or(version);
    let end = version.find(['-', '+']).unwrap_or(version.len());
    let (numbers, suffix) = version.split_at(end);
    if suffix.len() == 1 {
        return None; // a bare `-` or `+`
    }
    let parts = numbers
        .split('.')
        .map(|part| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse::<u64>().ok()
        })
        .collect::<Option<Vec<u64>>>()?;
    Some((parts, suffix.starts_with('-')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn compare_orders_dotted_numbers_part_by_part() {
        assert_eq!(compare("1.47.10", "1.47.11"), Some(Less));
        assert_eq!(compare("1.47.11", "1.47.11"), Some(Equal));
        assert_eq!(compare("1.47.100", "1.47.11"), Some(Greater));
        assert_eq!(compare("2.1550.0", "2.575.0"), Some(Greater));
        assert_eq!(compare("1.2", "1.2.0"), Some(Equal));
        assert_eq!(compare("1.2", "1.2.1"), Some(Less));
        assert_eq!(compare("10", "9.99.99"), Some(Greater));
    }

    #[test]
    fn compare_allows_a_leading_v_and_ignores_build_suffixes() {
        assert_eq!(compare("v1.16.0", "1.16.0"), Some(Equal));
        assert_eq!(compare("v1.15.9", "v1.16.0"), Some(Less));
        assert_eq!(compare("2.0.0+incompatible", "2.0.0"), Some(Equal));
        assert_eq!(compare("1.2.3+build.5", "1.2.4"), Some(Less));
    }

    #[test]
    fn compare_puts_a_pre_release_below_its_release() {
        assert_eq!(compare("1.25.0-rc1", "1.25.0"), Some(Less));
        assert_eq!(compare("1.25.0", "1.25.0-rc1"), Some(Greater));
        assert_eq!(compare("1.25.1-rc1", "1.25.0"), Some(Greater));
        assert_eq!(compare("1.25.0-rc1", "1.25.0-rc2"), Some(Equal));
        assert_eq!(compare("1.2.0-rc1+b", "1.2.0"), Some(Less));
        // A Go pseudo-version is a pre-release of its base.
        assert_eq!(
            compare("v0.0.0-20230101000000-abcdef123456", "0.0.1"),
            Some(Less)
        );
    }

    #[test]
    fn compare_refuses_anything_non_numeric() {
        for bad in [
            "",
            "v",
            "(devel)",
            "1.2.3rc1",
            "1..2",
            ".1",
            "1.",
            "1.2-",
            "1.2+",
            "-1",
            " 1.2",
            "1.x",
            "vv1",
            "99999999999999999999999",
            "release-2023-11-14",
        ] {
            assert_eq!(compare(bad, "1.0"), None, "{bad:?}");
            assert_eq!(compare("1.0", bad), None, "{bad:?}");
        }
    }

    #[test]
    fn minimum_finds_the_row_or_none() {
        let row = minimum(Sdk::GoV1, Feature::PodIdentityHost).expect("a row");
        assert_eq!(row.version, "1.47.11");
        assert_eq!(row.source, "go1-1.47.11");
        assert_eq!(
            minimum(Sdk::Botocore, Feature::FullUri).map(|m| m.version),
            Some("1.5.27")
        );
        assert!(minimum(Sdk::GoV2Imds, Feature::PodIdentityHost).is_none());
        assert!(minimum(Sdk::RustAwsConfig, Feature::Imdsv2).is_none());
    }

    #[test]
    fn every_row_version_is_comparable_and_pairs_are_unique() {
        for (i, row) in MINIMUMS.iter().enumerate() {
            assert_eq!(compare(row.version, row.version), Some(Equal), "{row:?}");
            let first = MINIMUMS
                .iter()
                .position(|m| m.sdk == row.sdk && m.feature == row.feature);
            assert_eq!(first, Some(i), "duplicate row {row:?}");
        }
    }
}
