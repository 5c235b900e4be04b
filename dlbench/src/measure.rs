//! Interleaved measurement and the result table: every round runs each
//! loader once per size (a calibrated batch of open/lookup/close cycles), in
//! an order that rotates from round to round, so that drift and noise from
//! other work on the machine spread over all columns; the table shows the
//! median over rounds and the ratio to glibc.

use std::time::Duration;

use crate::loaders::{Loader, Prepared};

/// Results of one loader on one measurement.
#[derive(Debug, Clone)]
pub enum Cell {
    /// Per-operation times, one per round.
    Times(Vec<f64>),
    /// The loader could not do it.
    Fails(String),
}

impl Cell {
    fn push(&mut self, ns: f64) {
        if let Cell::Times(v) = self {
            v.push(ns);
        }
    }

    /// Median of the rounds, in ns.
    pub fn median(&self) -> Option<f64> {
        match self {
            Cell::Times(v) if !v.is_empty() => Some(quantile(v, 0.5)),
            _ => None,
        }
    }

    /// Interquartile range relative to the median.
    pub fn spread(&self) -> Option<f64> {
        match self {
            Cell::Times(v) if v.len() >= 4 => {
                let m = quantile(v, 0.5);
                Some((quantile(v, 0.75) - quantile(v, 0.25)) / m)
            }
            _ => None,
        }
    }
}

/// `n` as a float (exact for any count this benchmark has).
fn float(n: usize) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = float(s.len() - 1) * q;
    let (lo, hi) = (i.floor() as usize, i.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * i.fract()
}

/// What to measure and how long.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Measured rounds (one warm-up round runs first and is dropped).
    pub rounds: usize,
    /// Aimed duration of one batch (one loader, one size, one round).
    pub batch: Duration,
    /// Whether to measure per-export `dlsym` on the largest library.
    pub dlsym: bool,
}

/// All results.
#[derive(Debug, Clone)]
pub struct Results {
    /// Column names, glibc first.
    pub loaders: Vec<&'static str>,
    /// Per size (rows), per loader (columns): ns per open+10 lookups+close.
    pub cycles: Vec<Vec<Cell>>,
    /// Per loader: ns per lookup over every export of the largest library.
    pub dlsym: Vec<Cell>,
    /// Iterations per batch, per size.
    pub iterations: Vec<u32>,
}

/// The library whose exports the `dlsym` row looks up: the generated one
/// with the most.
pub fn dlsym_library(libraries: &[Prepared]) -> usize {
    libraries
        .iter()
        .enumerate()
        .filter(|(_, l)| l.library.size.is_some())
        .max_by_key(|(_, l)| l.library.exports.len())
        .map_or(0, |(i, _)| i)
}

/// Runs the plan. `loaders[0]` is the reference (glibc) and sets the batch
/// sizes. `failed[i]` holds a reason for a loader that could not be set up.
pub fn run(
    plan: Plan,
    libraries: &[Prepared],
    loaders: &mut [Option<Box<dyn Loader>>],
    names: &[&'static str],
    progress: &mut dyn FnMut(&str),
) -> Results {
    let n = loaders.len();
    let mut cycles: Vec<Vec<Cell>> = libraries
        .iter()
        .map(|_| (0..n).map(|_| Cell::Times(Vec::new())).collect())
        .collect();
    let mut dlsym: Vec<Cell> = (0..n).map(|_| Cell::Times(Vec::new())).collect();
    for (i, l) in loaders.iter().enumerate() {
        if l.is_none() {
            for row in &mut cycles {
                row[i] = Cell::Fails(String::from("not available"));
            }
            dlsym[i] = Cell::Fails(String::from("not available"));
        }
    }
    // Correctness first: a loader that cannot run a library gets "fails",
    // and so does one whose relocated slots differ from the first
    // checksum reported for that library (the reference's, glibc first).
    let largest = dlsym_library(libraries);
    for (s, lib) in libraries.iter().enumerate() {
        let mut reference: Option<(usize, String)> = None;
        for (i, l) in loaders.iter_mut().enumerate() {
            let Some(l) = l else { continue };
            let verdict = match (l.check(lib), &reference) {
                (Ok(Some(sum)), Some((r, expected))) if sum != *expected => Err(format!(
                    "relocated slots differ from {}'s (checksum {sum}, not {expected})",
                    names[*r]
                )),
                (Ok(Some(sum)), None) => {
                    reference = Some((i, sum));
                    Ok(())
                }
                (Ok(_), _) => Ok(()),
                (Err(e), _) => Err(e),
            };
            if let Err(e) = verdict {
                progress(&format!(
                    "  {} cannot run {}: {e}",
                    names[i], lib.library.name
                ));
                cycles[s][i] = Cell::Fails(e.clone());
                if s == largest {
                    dlsym[i] = Cell::Fails(e);
                }
            }
        }
    }
    // Batch sizes from one timed cycle of the reference loader (or the
    // first that works).
    let iterations: Vec<u32> = libraries
        .iter()
        .enumerate()
        .map(|(s, lib)| {
            let one = loaders
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| matches!(cycles[s][*i], Cell::Times(_)))
                .find_map(|(_, l)| {
                    let l = l.as_mut()?;
                    l.cycle(lib, 1).ok()?;
                    l.cycle(lib, 1).ok()
                })
                .unwrap_or(Duration::from_millis(1));
            (plan.batch.as_secs_f64() / one.as_secs_f64().max(1e-7)).clamp(1.0, 10_000.0) as u32
        })
        .collect();
    let exports = float(libraries[largest].library.exports.len());
    let passes = 2u32;
    for round in 0..=plan.rounds {
        if round > 0 {
            progress(&format!("  round {round}/{}", plan.rounds));
        }
        for (s, lib) in libraries.iter().enumerate() {
            for k in 0..n {
                let i = (k + round + s) % n;
                if !matches!(cycles[s][i], Cell::Times(_)) {
                    continue;
                }
                let Some(l) = loaders[i].as_mut() else {
                    continue;
                };
                match l.cycle(lib, iterations[s]) {
                    Ok(t) if round > 0 => {
                        cycles[s][i].push(t.as_secs_f64() * 1e9 / f64::from(iterations[s]));
                    }
                    Ok(_) => {}
                    Err(e) => cycles[s][i] = Cell::Fails(e),
                }
            }
        }
        if plan.dlsym {
            for k in 0..n {
                let i = (k + round) % n;
                if !matches!(dlsym[i], Cell::Times(_)) {
                    continue;
                }
                let Some(l) = loaders[i].as_mut() else {
                    continue;
                };
                match l.lookups(&libraries[largest], passes) {
                    Ok(t) if round > 0 => {
                        dlsym[i].push(t.as_secs_f64() * 1e9 / (exports * f64::from(passes)));
                    }
                    Ok(_) => {}
                    Err(e) => dlsym[i] = Cell::Fails(e),
                }
            }
        }
    }
    Results {
        loaders: names.to_vec(),
        cycles,
        dlsym,
        iterations,
    }
}

fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn cell_text(cell: &Cell, reference: Option<f64>, first: bool) -> String {
    match (cell, cell.median()) {
        (Cell::Fails(e), _) => {
            let mut e = e.replace('\n', " ");
            if e.chars().count() > 60 {
                e = e.chars().take(57).collect::<String>() + "...";
            }
            format!("fails: {e}")
        }
        (_, None) => String::from("-"),
        (_, Some(m)) => {
            let spread = cell
                .spread()
                .map_or_else(String::new, |s| format!(" ±{:.0}%", s * 50.0));
            match reference {
                Some(r) if !first => format!("{}{spread} ({:.2}×)", time(m), m / r),
                _ => format!("{}{spread}", time(m)),
            }
        }
    }
}

/// The table: one row per size and one for `dlsym`, one column per loader.
pub fn table(results: &Results, rows: &[String]) -> String {
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut header = vec![String::from("library")];
    header.extend(results.loaders.iter().map(|s| String::from(*s)));
    lines.push(header);
    for (r, row) in results.cycles.iter().enumerate() {
        let reference = row[0].median();
        let mut line = vec![rows[r].clone()];
        line.extend(
            row.iter()
                .enumerate()
                .map(|(i, c)| cell_text(c, reference, i == 0)),
        );
        lines.push(line);
    }
    if results.dlsym.iter().any(|c| c.median().is_some()) {
        let reference = results.dlsym[0].median();
        let mut line = vec![rows[rows.len() - 1].clone()];
        line.extend(
            results
                .dlsym
                .iter()
                .enumerate()
                .map(|(i, c)| cell_text(c, reference, i == 0)),
        );
        lines.push(line);
    }
    let widths: Vec<usize> = (0..lines[0].len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (k, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(c, s)| format!("{s:<w$}", w = widths[c]))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if k == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}
