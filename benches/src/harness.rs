//! What every benchmark shares: options, the results table, the JSON file.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// Command-line options common to all benchmarks.
#[derive(Clone, Debug)]
pub struct Opts {
    pub quick: bool,
}

/// A printed table plus the JSON rows behind it.
pub struct Report {
    name: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    json_rows: Vec<Value>,
    summary: Map<String, Value>,
    notes: Vec<String>,
}

impl Report {
    pub fn new(name: &str, headers: &[&str]) -> Self {
        Report {
            name: name.to_string(),
            headers: headers.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
            json_rows: Vec::new(),
            summary: Map::new(),
            notes: Vec::new(),
        }
    }

    /// One table row; `data` is the same row as JSON for the result file.
    pub fn row(&mut self, cells: Vec<String>, data: Value) {
        self.rows.push(cells);
        self.json_rows.push(data);
    }

    pub fn summary(&mut self, key: &str, value: impl Into<Value>) {
        self.summary.insert(key.to_string(), value.into());
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Print the table and write target/bench/NAME.json.
    pub fn finish(self, opts: &Opts) -> std::io::Result<PathBuf> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(c.len());
                }
            }
        }
        let line = |cells: &[String]| {
            cells.iter().enumerate().map(|(i, c)| format!("{:>w$}", c, w = widths[i])).collect::<Vec<_>>().join("  ")
        };
        println!("\n== {} {}==", self.name, if opts.quick { "(quick) " } else { "" });
        println!("{}", line(&self.headers));
        for r in &self.rows {
            println!("{}", line(r));
        }
        for n in &self.notes {
            println!("note: {n}");
        }
        println!("summary: {}", Value::Object(self.summary.clone()));
        let dir = bench_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.json", self.name));
        let doc = json!({
            "name": self.name,
            "quick": opts.quick,
            "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            "machine": machine(),
            "results": self.json_rows,
            "notes": self.notes,
            "summary": self.summary,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")?;
        println!("wrote {}", path.display());
        Ok(path)
    }
}

/// target/bench of the workspace.
pub fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    target.join("bench")
}

/// CPU model, cores and kernel, for the record.
pub fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    json!({ "cpu": cpu, "cores": cores, "kernel": kernel })
}

/// Round to `d` decimals for printing in JSON.
pub fn round(x: f64, d: i32) -> f64 {
    let m = 10f64.powi(d);
    (x * m).round() / m
}

/// Write `size` bytes of non-zero pseudo-random data to `path` (sparse holes
/// or zeros would read faster than real data), unless it already has that size.
pub fn data_file(path: &std::path::Path, size: u64) -> std::io::Result<()> {
    use std::io::Write;
    if std::fs::metadata(path).map(|m| m.len() == size).unwrap_or(false) {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut x = 0x9E3779B97F4A7C15u64;
    for b in chunk.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8 | 1;
    }
    for _ in 0..(size >> 20) {
        f.write_all(&chunk)?;
    }
    f.sync_all()
}

/// The path of a command on $PATH, if any.
pub fn which(cmd: &str) -> Option<String> {
    let out = std::process::Command::new("sh").arg("-c").arg(format!("command -v {cmd}")).output().ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then_some(s)
}
