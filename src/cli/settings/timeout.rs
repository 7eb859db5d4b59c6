//! `--timeout` (or ARGOCD_EKS_TIMEOUT) as the limits every network call runs under.

use std::time::Duration;

use crate::error::{Error, Result};

/// One call to a server (AWS or Kubernetes) when `--timeout` is not given.
pub(crate) const DEFAULT_CALL: Duration = Duration::from_secs(30);
/// The longest a connection (TCP and TLS) may take, whatever `--timeout` says.
pub(crate) const MAX_CONNECT: Duration = Duration::from_secs(10);

/// How long the tool waits for a server before it says which one did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// Opening a connection (TCP + TLS): `call`, at most [`MAX_CONNECT`].
    pub(crate) connect: Duration,
    /// One call, its retries included, and each wait for bytes within it.
    pub(crate) call: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::for_call(DEFAULT_CALL)
    }
}

impl Timeouts {
    pub(crate) fn for_call(call: Duration) -> Self {
        Timeouts {
            connect: call.min(MAX_CONNECT),
            call,
        }
    }

    /// From `--timeout`'s text, if given.
    pub(crate) fn from_flag(text: Option<&str>) -> Result<Self> {
        match text {
            None => Ok(Timeouts::default()),
            Some(text) => parse_duration(text).map(Timeouts::for_call).map_err(|why| {
                Error::usage(format!(
                    "--timeout {text:?} (or ARGOCD_EKS_TIMEOUT) {why}: give seconds (30) or a duration like 10s, 500ms or 2m"
                ))
            }),
        }
    }
}

/// `30`, `30s`, `1.5s`, `500ms`, `2m`: a positive duration, seconds when there is no unit.
fn parse_duration(text: &str) -> std::result::Result<Duration, &'static str> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| "is not a duration")?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        _ => return Err("has an unknown unit"),
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err("must be more than zero");
    }
    if seconds > 24.0 * 3600.0 {
        return Err("is more than a day");
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A duration as a person would write it back: `30s`, `1.5s`, `500ms`.
pub(crate) fn show(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_seconds_or_with_a_unit() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in ["", "s", "0", "0s", "-1", "ten", "10h", "1e3", "100000"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn connecting_is_bounded_and_the_call_is_as_given() {
        assert_eq!(
            Timeouts::default(),
            Timeouts {
                connect: MAX_CONNECT,
                call: DEFAULT_CALL
            }
        );
        let short = Timeouts::from_flag(Some("2s")).unwrap();
        assert_eq!(short.connect, Duration::from_secs(2));
        assert_eq!(short.call, Duration::from_secs(2));
        let long = Timeouts::from_flag(Some("5m")).unwrap();
        assert_eq!(
            (long.connect, long.call),
            (MAX_CONNECT, Duration::from_secs(300))
        );
        let error = Timeouts::from_flag(Some("soon")).unwrap_err().to_string();
        assert!(error.contains("--timeout \"soon\""), "{error}");
        assert!(error.contains("10s, 500ms or 2m"), "{error}");
    }

    #[test]
    fn durations_read_back_as_written() {
        assert_eq!(show(Duration::from_secs(30)), "30s");
        assert_eq!(show(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show(Duration::from_millis(200)), "200ms");
    }
}
