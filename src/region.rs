//! The one Region type: a region name checked to be one DNS label (letters, digits and
//! dashes, 1 to 63 characters, no dash at either end), and the only way credcheck turns a
//! region into a host name ([`Region::host`]). Every source of a region builds one with
//! [`Region::parse`] and its own name: `AWS_REGION`, `AWS_DEFAULT_REGION`, a profile's
//! `region`, `--logs-region`, a Fluent Bit output's `region` (after `${VAR}` expansion), a
//! `--can` ARN's Region field, FireLens log options, IMDS. A value such as
//! `us-east-1.evil.example#`, `us-east-1/` or `x@127.0.0.1#` would otherwise move a signed
//! request (with the session token) to a host that is not AWS's; here it is a configuration
//! error naming its source, and no request is made.
//!
//! aws-config's endpoint rules check the same (aws-smithy's `is_valid_host_label`, used by
//! every service's endpoint resolver for `Region`). Reads no env vars.

use crate::error::Error;
use std::fmt;

/// A region name that is one DNS label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

/// The longest DNS label (RFC 1035 2.3.4).
const MAX_LABEL: usize = 63;

impl Region {
    /// The region `raw` (trimmed), or a configuration error that names `source`.
    pub fn parse(raw: &str, source: &str) -> Result<Region, Error> {
        let region = raw.trim();
        if is_label(region) {
            return Ok(Region(region.to_string()));
        }
        Err(Error::config(
            "invalid-region",
            format!(
                "the region {:?} (from {}) is not a region name: no request was made with it",
                crate::secret::sanitize_foreign(region, 40),
                crate::secret::printable(source, 200)
            ),
            format!(
                "set {} to a region such as us-east-1 or eu-west-1 (letters, digits and dashes only)",
                crate::secret::printable(source, 200)
            ),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The AWS partition: `aws`, `aws-cn`, `aws-us-gov`.
    pub fn partition(&self) -> &'static str {
        if self.0.starts_with("cn-") {
            "aws-cn"
        } else if self.0.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }

    /// The DNS suffix of the partition's endpoints.
    pub fn dns_suffix(&self) -> &'static str {
        match self.partition() {
            "aws-cn" => "amazonaws.com.cn",
            _ => "amazonaws.com",
        }
    }

    /// `SERVICE.REGION.SUFFIX`, e.g. `logs.eu-west-1.amazonaws.com`: the only host name
    /// credcheck derives from a region.
    pub fn host(&self, service: &str) -> String {
        format!("{service}.{}.{}", self.0, self.dns_suffix())
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// aws-smithy-types' `is_valid_host_label` without dots: `[A-Za-z0-9-]{1,63}`, no dash at
/// either end.
fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LABEL
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_regions_parse_and_build_hosts() {
        for (raw, host) in [
            ("us-east-1", "logs.us-east-1.amazonaws.com"),
            (" ap-northeast-1 ", "logs.ap-northeast-1.amazonaws.com"),
            ("cn-north-1", "logs.cn-north-1.amazonaws.com.cn"),
            ("us-gov-west-1", "logs.us-gov-west-1.amazonaws.com"),
        ] {
            assert_eq!(Region::parse(raw, "test").unwrap().host("logs"), host);
        }
        assert_eq!(
            Region::parse("us-gov-east-1", "t").unwrap().partition(),
            "aws-us-gov"
        );
    }

    #[test]
    fn anything_that_could_move_the_host_is_refused_naming_the_source() {
        for bad in [
            "",
            "us-east-1.evil.example#",
            "us-east-1/",
            "us-east-1@127.0.0.1#",
            "x@127.0.0.1:9#",
            "us-east-1:443",
            "us-east-1?x",
            "us east 1",
            "-us-east-1",
            "us-east-1-",
            "us-east-1\nx",
            "us-east-1\u{0}",
            "ｕｓ-east-1",
            &"a".repeat(64),
        ] {
            let e = Region::parse(bad, "a --can ARN").unwrap_err();
            assert_eq!(e.code, "invalid-region", "{bad:?}");
            assert!(e.message.contains("(from a --can ARN)"), "{}", e.message);
            assert_eq!(e.exit_code(), 2);
        }
    }
}
