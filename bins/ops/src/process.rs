//! Process metrics, read from `/proc/self` at each scrape (Linux; elsewhere nothing is
//! published): the standard Prometheus names `process_resident_memory_bytes`,
//! `process_cpu_seconds_total`, `process_open_fds`, plus `process_resident_memory_peak_bytes`
//! (the kernel's high-water mark, `VmHWM`) and `process_threads`.
//!
//! Hand-written rather than a crate (`procfs`, `prometheus`'s process collector): three small
//! files and our own registry; CPU ticks are converted with Linux's fixed `USER_HZ` of 100.

use crate::metrics::Metrics;

/// Linux's `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat` on every architecture
/// the project builds for.
const USER_HZ: f64 = 100.0;

/// What `/proc/self` says, where it could be read.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ProcessSample {
    /// Resident set size, bytes.
    pub rss_bytes: Option<f64>,
    /// Peak resident set size, bytes.
    pub rss_peak_bytes: Option<f64>,
    /// Threads.
    pub threads: Option<f64>,
    /// User + system CPU time, seconds.
    pub cpu_seconds: Option<f64>,
    /// Open file descriptors.
    pub open_fds: Option<f64>,
}

impl ProcessSample {
    /// Reads this process's sample (all `None` where `/proc` is missing).
    pub fn read() -> ProcessSample {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let mut s = ProcessSample::parse(&status, &stat);
        s.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as f64);
        s
    }

    /// Parses `/proc/self/status` and `/proc/self/stat` text. Pure.
    pub fn parse(status: &str, stat: &str) -> ProcessSample {
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
        };
        // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
        let cpu = stat.rfind(')').and_then(|i| {
            let fields: Vec<&str> = stat[i + 1..].split_whitespace().collect();
            // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
            let utime = fields.get(11)?.parse::<f64>().ok()?;
            let stime = fields.get(12)?.parse::<f64>().ok()?;
            Some((utime + stime) / USER_HZ)
        });
        ProcessSample {
            rss_bytes: kb("VmRSS:").map(|k| k * 1024.0),
            rss_peak_bytes: kb("VmHWM:").map(|k| k * 1024.0),
            threads: kb("Threads:"),
            cpu_seconds: cpu,
            open_fds: None,
        }
    }
}

/// Publishes a fresh [`ProcessSample`] in `metrics`.
pub fn record(metrics: &Metrics) {
    let s = ProcessSample::read();
    let gauges = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            s.rss_bytes,
        ),
        (
            "process_resident_memory_peak_bytes",
            "Peak resident memory size in bytes since start (VmHWM).",
            s.rss_peak_bytes,
        ),
        ("process_threads", "OS threads of the process.", s.threads),
        ("process_open_fds", "Open file descriptors.", s.open_fds),
    ];
    for (name, help, v) in gauges {
        if let Some(v) = v {
            metrics.set(name, help, &[], v);
        }
    }
    if let Some(cpu) = s.cpu_seconds {
        // The registry's counters are whole numbers: CPU time in centiseconds would lose the
        // unit, so it is a gauge-typed total in seconds with the standard name.
        metrics.set(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            &[],
            cpu,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_text_is_parsed_and_odd_names_do_not_confuse_it() {
        let status = "Name:\texcp\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\n";
        let stat = "4242 (ex cp) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0";
        let s = ProcessSample::parse(status, stat);
        assert_eq!(s.rss_bytes, Some(10_485_760.0));
        assert_eq!(s.rss_peak_bytes, Some(20_971_520.0));
        assert_eq!(s.threads, Some(7.0));
        assert_eq!(s.cpu_seconds, Some(3.0));
        assert_eq!(ProcessSample::parse("", ""), ProcessSample::default());
    }

    #[test]
    fn this_process_is_measured() {
        let m = Metrics::new();
        record(&m);
        let text = m.render();
        if std::path::Path::new("/proc/self/status").exists() {
            assert!(text.contains("process_resident_memory_bytes "), "{text}");
            assert!(text.contains("process_cpu_seconds_total "), "{text}");
            assert!(text.contains("process_open_fds "), "{text}");
        }
    }
}
