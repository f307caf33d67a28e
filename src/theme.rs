//! themes/*.toml → named semantic styles. Panes ask for `theme.border(focused)` or
//! `theme.severity(..)`, never for a colour. `NO_COLOR` drops colours and keeps emphasis.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

use crate::config::line_of;
use crate::model::{Health, Severity};

pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../themes/default.toml")),
    (
        "high-contrast",
        include_str!("../themes/high-contrast.toml"),
    ),
    ("light", include_str!("../themes/light.toml")),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StyleName {
    Text,
    Muted,
    Border,
    BorderFocused,
    Title,
    Header,
    Selected,
    Ok,
    Warning,
    Critical,
    Unknown,
    StatusBar,
    Cluster,
    Readonly,
    Danger,
    Popup,
    PopupBorder,
    Key,
    Highlight,
    Error,
    /// Stand-ins for characters removed for display (`␛`), so a crafted name never looks clean.
    Escaped,
    /// The series of a chart, in order (a chart of more cycles through them).
    Series1,
    Series2,
    Series3,
    Series4,
}

const NAMES: &[(&str, StyleName)] = &[
    ("text", StyleName::Text),
    ("muted", StyleName::Muted),
    ("border", StyleName::Border),
    ("border_focused", StyleName::BorderFocused),
    ("title", StyleName::Title),
    ("header", StyleName::Header),
    ("selected", StyleName::Selected),
    ("ok", StyleName::Ok),
    ("warning", StyleName::Warning),
    ("critical", StyleName::Critical),
    ("unknown", StyleName::Unknown),
    ("status_bar", StyleName::StatusBar),
    ("cluster", StyleName::Cluster),
    ("readonly", StyleName::Readonly),
    ("danger", StyleName::Danger),
    ("popup", StyleName::Popup),
    ("popup_border", StyleName::PopupBorder),
    ("key", StyleName::Key),
    ("highlight", StyleName::Highlight),
    ("error", StyleName::Error),
    ("escaped", StyleName::Escaped),
    ("series1", StyleName::Series1),
    ("series2", StyleName::Series2),
    ("series3", StyleName::Series3),
    ("series4", StyleName::Series4),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStyle {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reversed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    styles: BTreeMap<String, Spanned<RawStyle>>,
}

#[derive(Debug, thiserror::Error)]
#[error("theme error in {origin} line {line}: {message}")]
pub struct ThemeError {
    pub origin: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Theme {
    pub name: String,
    styles: HashMap<StyleName, Style>,
    /// Per-cluster border colour (e.g. red for prod).
    accent: Option<Color>,
    /// A merged view's clusters' accents, by `ClusterId` (empty for a single cluster).
    cluster_accents: Vec<Option<Color>>,
}

/// Whether `NO_COLOR` asks for no colours: set and not empty (<https://no-color.org>).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Theme {
    /// `spec` is a built-in name or a path; `no_color` strips colours (NO_COLOR is set).
    pub fn resolve(
        spec: Option<&str>,
        accent: Option<&str>,
        no_color: bool,
    ) -> Result<Theme, ThemeError> {
        let spec = spec.unwrap_or("default");
        let base = Self::parse(BUILTIN[0].1, "built-in theme \"default\"", None)?;
        let mut theme =
            if spec == "default" {
                base
            } else if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
                Self::parse(text, &format!("built-in theme \"{name}\""), Some(base))?
            } else {
                let path = crate::paths::expand_tilde(spec);
                let origin = path.display().to_string();
                let text =
                    std::fs::read_to_string(&path).map_err(|e| ThemeError {
                        origin: origin.clone(),
                        line: 0,
                        message: format!(
                    "cannot read it ({e}) — give a file path or one of the built-in themes: {}",
                    BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ),
                    })?;
                Self::parse(&text, &origin, Some(base))?
            };
        theme.name = spec.to_string();
        if let Some(a) = accent {
            theme.accent = Some(Color::from_str(a).map_err(|_| ThemeError {
                origin: "config".into(),
                line: 0,
                message: format!(
                    "accent \"{a}\" is not a colour — use a name like \"red\" or \"#rrggbb\""
                ),
            })?);
        }
        if no_color {
            theme.strip_colors();
        }
        Ok(theme)
    }

    fn parse(text: &str, origin: &str, base: Option<Theme>) -> Result<Theme, ThemeError> {
        let err = |offset: usize, message: String| ThemeError {
            origin: origin.to_string(),
            line: line_of(text, offset),
            message,
        };
        let raw: RawTheme = toml::from_str(text).map_err(|e| {
            err(
                e.span().map(|s| s.start).unwrap_or(0),
                e.message().trim().to_string(),
            )
        })?;
        let mut theme = base.unwrap_or(Theme {
            name: String::new(),
            styles: HashMap::new(),
            accent: None,
            cluster_accents: Vec::new(),
        });
        for (name, spec) in raw.styles {
            let at = spec.span().start;
            let Some((_, style_name)) = NAMES.iter().find(|(n, _)| *n == name) else {
                return Err(err(
                    at,
                    format!(
                        "unknown style \"{name}\" — styles are {}",
                        NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ),
                ));
            };
            let spec = spec.into_inner();
            let color = |c: &Option<String>| -> Result<Option<Color>, ThemeError> {
                c.as_deref()
                    .map(|c| {
                        Color::from_str(c).map_err(|_| {
                            err(at, format!("\"{c}\" in style \"{name}\" is not a colour — use a name like \"red\", \"light-blue\", an index or \"#rrggbb\""))
                        })
                    })
                    .transpose()
            };
            let mut style = Style::default();
            if let Some(fg) = color(&spec.fg)? {
                style = style.fg(fg);
            }
            if let Some(bg) = color(&spec.bg)? {
                style = style.bg(bg);
            }
            for (on, m) in [
                (spec.bold, Modifier::BOLD),
                (spec.dim, Modifier::DIM),
                (spec.italic, Modifier::ITALIC),
                (spec.underline, Modifier::UNDERLINED),
                (spec.reversed, Modifier::REVERSED),
            ] {
                if on {
                    style = style.add_modifier(m);
                }
            }
            theme.styles.insert(*style_name, style);
        }
        Ok(theme)
    }

    fn strip_colors(&mut self) {
        self.accent = None;
        self.cluster_accents.clear();
        for (name, style) in self.styles.iter_mut() {
            let mut s = Style::default().add_modifier(style.add_modifier);
            // Without colour, selection and badges must still stand out.
            if matches!(
                name,
                StyleName::Selected
                    | StyleName::Cluster
                    | StyleName::Readonly
                    | StyleName::Danger
                    | StyleName::Highlight
                    | StyleName::Escaped
            ) {
                s = s.add_modifier(Modifier::REVERSED);
            }
            *style = s;
        }
    }

    pub fn style(&self, name: StyleName) -> Style {
        self.styles.get(&name).copied().unwrap_or_default()
    }

    /// A merged view: each cluster's accent (as written in its profile), by `ClusterId`. The
    /// borders then take no one cluster's accent: the CLUSTER column and the status bar carry
    /// each cluster's colour instead.
    pub fn with_cluster_accents(mut self, accents: &[Option<String>]) -> Result<Theme, ThemeError> {
        let mut out = Vec::with_capacity(accents.len());
        for a in accents {
            out.push(
                a.as_deref()
                    .map(|a| {
                        Color::from_str(a).map_err(|_| ThemeError {
                            origin: "config".into(),
                            line: 0,
                            message: format!(
                                "accent \"{a}\" is not a colour — use a name like \"red\" or \"#rrggbb\""
                            ),
                        })
                    })
                    .transpose()?,
            );
        }
        self.accent = None;
        if !no_color() {
            self.cluster_accents = out;
        }
        Ok(self)
    }

    /// Cluster `c`'s name as the panes and the status bar draw it: the `cluster` style in that
    /// cluster's accent colour, when it has one.
    pub fn cluster(&self, c: crate::model::ClusterId) -> Style {
        let base = Style::default().add_modifier(Modifier::BOLD);
        match self.cluster_accents.get(c.0 as usize).copied().flatten() {
            Some(colour) => base.fg(colour),
            None => base,
        }
    }

    pub fn border(&self, focused: bool) -> Style {
        let base = self.style(if focused {
            StyleName::BorderFocused
        } else {
            StyleName::Border
        });
        match self.accent {
            Some(c) => base.fg(c),
            None => base,
        }
    }

    /// The row under a list's cursor: the selected style in the focused pane; underlined and
    /// muted elsewhere, so the two differ without colour too.
    pub fn cursor(&self, focused: bool) -> Style {
        if focused {
            self.style(StyleName::Selected)
        } else {
            self.style(StyleName::Muted)
                .add_modifier(Modifier::UNDERLINED)
        }
    }

    /// The style of a chart's `i`-th series.
    pub fn series(&self, i: usize) -> Style {
        self.style(
            [
                StyleName::Series1,
                StyleName::Series2,
                StyleName::Series3,
                StyleName::Series4,
            ][i % 4],
        )
    }

    pub fn severity(&self, s: Severity) -> Style {
        self.style(match s {
            Severity::Ok => StyleName::Ok,
            Severity::Warning => StyleName::Warning,
            Severity::Critical => StyleName::Critical,
            Severity::Unknown => StyleName::Unknown,
        })
    }

    pub fn health(&self, h: &Health) -> Style {
        self.severity(match h {
            Health::Live => Severity::Ok,
            Health::Connecting | Health::Retrying { .. } => Severity::Warning,
            Health::Failed(_) => Severity::Critical,
            Health::NotConfigured | Health::Idle => return self.style(StyleName::Muted),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_and_defines_every_style() {
        for (name, text) in BUILTIN {
            let t = Theme::parse(text, name, None).unwrap();
            for (n, s) in NAMES {
                assert!(t.styles.contains_key(s), "{name} lacks {n}");
            }
        }
    }

    #[test]
    fn bad_colour_names_line() {
        let e = Theme::parse(
            "[styles]\nok = { fg = \"green\" }\nwarning = { fg = \"blurple\" }\n",
            "t.toml",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("t.toml line 3") && e.contains("blurple"), "{e}");
    }

    #[test]
    fn no_color_keeps_emphasis_only() {
        let t = Theme::resolve(None, Some("red"), true).unwrap();
        assert_eq!(t.style(StyleName::Ok).fg, None);
        assert!(t
            .style(StyleName::Selected)
            .add_modifier
            .contains(Modifier::REVERSED));
        assert_eq!(t.border(false).fg, None);
    }

    #[test]
    fn accent_colours_borders() {
        let t = Theme::resolve(Some("light"), Some("red"), false).unwrap();
        assert_eq!(t.border(true).fg, Some(Color::Red));
    }
}
