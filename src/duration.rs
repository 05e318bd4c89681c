//! Durations for people and from people: [`human`] prints `998ms`, `4m30s`, `5h`, `400 days`;
//! [`parse`] reads humantime's syntax (`500ms`, `3s`, `5m`) within a stated maximum, so no
//! later arithmetic (a deadline plus slack, an instant plus a timeout) can overflow.
//! Reads no env vars.

use std::time::Duration;

/// The longest `--deadline` or `--timeout`: a run that waits longer is not a check.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);
/// The longest `--min-ttl`: no AWS credential lives longer than this.
pub const MAX_TTL: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

/// A duration rounded to what a person reads: ms below a second, then s, m, h, days.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{}ms", d.as_millis()),
        1..=59 => trim_zero(format!("{:.1}s", d.as_secs_f64().min(59.9))),
        60..=3599 => pair(secs / 60, "m", secs % 60, "s"),
        3600..=172_799 => pair(secs / 3600, "h", secs % 3600 / 60, "m"),
        _ => format!("{} days", secs / 86_400),
    }
}

fn trim_zero(text: String) -> String {
    text.replace(".0s", "s")
}

fn pair(big: u64, big_unit: &str, small: u64, small_unit: &str) -> String {
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit}{small}{small_unit}")
    }
}

/// `500ms`, `3s`, `5m`: humantime's syntax, greater than zero and at most `max`.
pub fn parse(raw: &str, max: Duration) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw.trim())
        .map_err(|e| format!("{e}; write durations like 500ms, 3s or 5m"))?;
    if d.is_zero() {
        return Err("must be greater than zero; write durations like 500ms, 3s or 5m".into());
    }
    if d > max {
        return Err(format!(
            "must be at most {}; write durations like 500ms, 3s or 5m",
            human(max)
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        let ms = |n| Duration::from_millis(n);
        assert_eq!(human(Duration::from_nanos(998_960_921)), "998ms");
        assert_eq!(human(ms(1500)), "1.5s");
        assert_eq!(human(ms(3000)), "3s");
        assert_eq!(human(ms(270_000)), "4m30s");
        assert_eq!(human(Duration::from_secs(5 * 3600)), "5h");
        assert_eq!(human(Duration::from_secs(400 * 86_400 + 7)), "400 days");
        assert_eq!(human(Duration::MAX), format!("{} days", u64::MAX / 86_400));
    }

    #[test]
    fn huge_durations_are_refused() {
        assert!(parse("18446744073709551615s", MAX_WAIT).is_err());
        assert!(parse("25h", MAX_WAIT).is_err());
        assert_eq!(parse("3s", MAX_WAIT), Ok(Duration::from_secs(3)));
        assert!(parse("0s", MAX_WAIT).is_err());
    }
}
