//! What a replay measured: counts per command and status, latency percentiles, throughput,
//! and error lines in the course simulator's format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// The outcome of one request.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: i64,
    pub command: &'static str,
    /// The HTTP status, or `None` when no response came (connection error, timeout).
    pub status: Option<u16>,
    pub latency: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.status == Some(204)
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
    pub elapsed: Duration,
    pub host: String,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.outcomes.iter().filter(|o| !o.ok()).count()
    }

    pub fn requests_per_second(&self) -> f64 {
        self.outcomes.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latency at quantile `q` (0..=1), nearest-rank.
    pub fn latency_quantile(&self, q: f64) -> Duration {
        let mut latencies: Vec<Duration> = self.outcomes.iter().map(|o| o.latency).collect();
        latencies.sort_unstable();
        quantile(&latencies, q)
    }

    /// One line per failed action: `timestamp,host,latest,status,command`.
    pub fn error_lines(&self) -> Vec<String> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.outcomes
            .iter()
            .filter(|o| !o.ok())
            .map(|o| {
                let status = o
                    .status
                    .map_or_else(|| "error".to_owned(), |s| s.to_string());
                format!("{now},{},{},{status},{}", self.host, o.id, o.command)
            })
            .collect()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counts: BTreeMap<(&str, String), usize> = BTreeMap::new();
        for o in &self.outcomes {
            let status = o
                .status
                .map_or_else(|| "error".to_owned(), |s| s.to_string());
            *counts.entry((o.command, status)).or_default() += 1;
        }
        let _ = writeln!(out, "command   status  count");
        for ((command, status), count) in &counts {
            let _ = writeln!(out, "{command:<9} {status:<7} {count}");
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let _ = writeln!(
            out,
            "requests {}  errors {}  elapsed {:.2} s  throughput {:.0} req/s",
            self.outcomes.len(),
            self.errors(),
            self.elapsed.as_secs_f64(),
            self.requests_per_second()
        );
        let _ = writeln!(
            out,
            "latency  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            ms(self.latency_quantile(0.50)),
            ms(self.latency_quantile(0.99)),
            ms(self.latency_quantile(1.0))
        );
        out
    }
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(id: i64, status: Option<u16>, ms: u64) -> Outcome {
        Outcome {
            id,
            command: "tweet",
            status,
            latency: Duration::from_millis(ms),
        }
    }

    #[test]
    fn percentiles_counts_and_error_lines() {
        let mut outcomes: Vec<Outcome> =
            (1..=100).map(|i| outcome(i, Some(204), i as u64)).collect();
        outcomes.push(outcome(101, Some(500), 200));
        outcomes.push(outcome(102, None, 300));
        let report = Report {
            outcomes,
            elapsed: Duration::from_secs(2),
            host: "h".into(),
        };
        assert_eq!(report.errors(), 2);
        assert_eq!(report.latency_quantile(1.0), Duration::from_millis(300));
        // Nearest rank: the 51st of 102 sorted latencies.
        assert_eq!(report.latency_quantile(0.5), Duration::from_millis(51));
        let lines = report.error_lines();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with(",h,101,500,tweet"), "{}", lines[0]);
        assert!(lines[1].ends_with(",h,102,error,tweet"), "{}", lines[1]);
        assert!(report.render().contains("tweet     204     100"));
    }
}
