//! What the metrics pane asks for (a query: scope × window × width) and what comes back.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    M15,
    H1,
    H6,
    H24,
}

impl Window {
    pub const ALL: [Window; 4] = [Window::M15, Window::H1, Window::H6, Window::H24];

    pub fn secs(self) -> i64 {
        match self {
            Window::M15 => 900,
            Window::H1 => 3600,
            Window::H6 => 6 * 3600,
            Window::H24 => 24 * 3600,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Window::M15 => "15m",
            Window::H1 => "1h",
            Window::H6 => "6h",
            Window::H24 => "24h",
        }
    }

    pub fn step(self, delta: isize) -> Window {
        let i = Self::ALL.iter().position(|w| *w == self).unwrap_or(0) as isize;
        Self::ALL[(i + delta).rem_euclid(4) as usize]
    }
}

/// `(unix seconds, value)` as a backend answered; `None` is a gap.
pub type Points = Vec<(f64, Option<f64>)>;

/// What to chart: one member's series, or the cluster-wide aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    /// Shown in the pane title: the instance name, or the cluster name.
    pub label: String,
    /// Placeholder values; `None` = cluster-wide.
    pub vars: Option<BTreeMap<String, String>>,
    pub window: Window,
    /// Columns available for the sparkline; points are downsampled to this.
    pub width: usize,
    /// Where the window ends: `None` now (live), else the time cursor's moment.
    pub end: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub expr: String,
    pub unit: String,
    /// One value per column, `None` where there is no data (a gap, never a zero).
    pub points: Vec<Option<f64>>,
    pub last: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricsResult {
    pub query: MetricsQuery,
    pub series: Vec<Result<Series, String>>,
}
