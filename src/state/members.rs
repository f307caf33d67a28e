//! Membership: every key under the prefix, kept sorted and filtered incrementally so 100k members
//! cost O(log n) per change instead of a re-sort per frame.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use regex::Regex;

use super::cursor::ListCursor;
use super::member_store::Stores;
use super::pane::{PaneCtx, PaneState, Reaction};
use super::parted::Parted;
use super::popup::Popup;
use super::runs::Runs;
use crate::action::Action;
use crate::model::listing::{Listing, Prepared};
use crate::model::member_store::Store;
use crate::model::sort_prefix::{Groups, Row};
use crate::model::{
    by_role_and_instance, natural_cmp, ClusterId, Command, KvEntry, KvEvent, Member,
};

/// A member's identity: its cluster and its raw key.
pub type Ident = (ClusterId, Arc<[u8]>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    Role,
    Instance,
    Addr,
    Ttl,
    Age,
    Version,
    /// How often the member came back within the flapping window, most first.
    Flaps,
}

impl SortColumn {
    pub const ALL: [SortColumn; 7] = [
        SortColumn::Role,
        SortColumn::Instance,
        SortColumn::Addr,
        SortColumn::Ttl,
        SortColumn::Age,
        SortColumn::Version,
        SortColumn::Flaps,
    ];

    pub fn title(self) -> &'static str {
        match self {
            SortColumn::Role => "ROLE",
            SortColumn::Instance => "INSTANCE",
            SortColumn::Addr => "ADDRESS",
            SortColumn::Ttl => "TTL",
            SortColumn::Age => "AGE",
            SortColumn::Version => "VERSION",
            SortColumn::Flaps => "FLAPS",
        }
    }

    fn next(self) -> SortColumn {
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub text: String,
    pub regex: Regex,
    /// The same pattern without the literal prefilter, for short text (see [`Filter::is_match`]).
    short: regex_automata::meta::Regex,
    /// A case-insensitive pattern as it reads lowercased ASCII text (see [`super::ascii_fold`]);
    /// `None` when the pattern is case-sensitive anywhere.
    lowered: Option<regex_automata::meta::Regex>,
    pub inverted: bool,
    /// A leading `cluster:NAME` token (a merged view): only that cluster's rows; the rest of
    /// the text is the regex.
    pub cluster: Option<String>,
}

/// The compiled size a filter regex may take (a pasted monster pattern is refused, not built).
const FILTER_SIZE_LIMIT: usize = 1 << 20;
/// Up to this many bytes a filter runs without its literal prefilter ([`Filter::is_match`]).
const SHORT_TEXT: usize = 48;

/// The field filter token a filter may start with.
const CLUSTER_FIELD: &str = "cluster:";

impl Filter {
    /// `!re` inverts; a leading `cluster:NAME` token keeps one cluster's rows (the regex, if
    /// any, follows it). An invalid regex is an error message for the status line.
    pub fn parse(input: &str) -> Result<Option<Filter>, String> {
        let trimmed = input.trim_start();
        let (cluster, input_rest) = match trimmed.strip_prefix(CLUSTER_FIELD) {
            Some(rest) => {
                let (name, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                if name.is_empty() {
                    return Err(format!(
                        "{CLUSTER_FIELD} needs a cluster name: cluster:NAME [regex]"
                    ));
                }
                (Some(name.to_string()), after.trim_start())
            }
            None => (None, input),
        };
        let (inverted, pattern) = match input_rest.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, input_rest),
        };
        if pattern.is_empty() && cluster.is_none() {
            return Ok(None);
        }
        let case_insensitive = pattern.chars().all(|c| !c.is_uppercase());
        let regex = regex::RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .size_limit(FILTER_SIZE_LIMIT)
            .build()
            .map_err(|e| format!("bad filter regex: {}", first_error_line(&e.to_string())))?;
        let short = regex_automata::meta::Regex::builder()
            .syntax(regex_automata::util::syntax::Config::new().case_insensitive(case_insensitive))
            .configure(
                regex_automata::meta::Config::new()
                    .nfa_size_limit(Some(FILTER_SIZE_LIMIT))
                    .auto_prefilter(false),
            )
            .build(pattern)
            .map_err(|e| format!("bad filter regex: {}", first_error_line(&e.to_string())))?;
        // Only a speed-up: a pattern the transformation or the builder does not take is searched
        // by the plain regex.
        let lowered = regex_syntax::ParserBuilder::new()
            .case_insensitive(case_insensitive)
            .build()
            .parse(pattern)
            .ok()
            .and_then(|hir| super::ascii_fold::lowered(&hir))
            .and_then(|hir| {
                regex_automata::meta::Regex::builder()
                    .configure(
                        regex_automata::meta::Config::new().nfa_size_limit(Some(FILTER_SIZE_LIMIT)),
                    )
                    .build_from_hir(&hir)
                    .ok()
            });
        Ok(Some(Filter {
            text: input.to_string(),
            regex,
            short,
            lowered,
            inverted,
            cluster,
        }))
    }

    pub fn matches_any(&self, fields: &[&str]) -> bool {
        fields.iter().any(|f| self.is_match(f)) != self.inverted
    }

    /// Whether the regex matches `text` (not inverted). On text shorter than its vector width
    /// a case-insensitive pattern's literal prefilter falls back to a slow search for every case
    /// variant of its words: measured here, 180–210 ns on 32 bytes against 100–140 ns for the
    /// lazy DFA alone, even at 64 bytes, and 10× faster than the DFA from 128 bytes on. Short
    /// log messages and names are most of what a filter reads.
    pub fn is_match(&self, text: &str) -> bool {
        if let Some(hit) = self
            .lowered
            .as_ref()
            .and_then(|low| super::ascii_fold::is_match_lowered(low, text))
        {
            return hit;
        }
        if text.len() <= SHORT_TEXT {
            self.short.is_match(text)
        } else {
            self.regex.is_match(text)
        }
    }

    /// Whether a row of cluster `name` passes the `cluster:` token (always, without one).
    pub fn matches_cluster(&self, name: &str) -> bool {
        self.cluster.as_deref().is_none_or(|c| c == name)
    }
}

/// The regex crate's last line (`error: unclosed group`) without its own `error:` (the message
/// already says it is one).
fn first_error_line(s: &str) -> String {
    let last = s.lines().last().unwrap_or(s).trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

/// How far a listing got: keys read, and keys under the prefix once etcd counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingProgress {
    pub revision: i64,
    pub listed: usize,
    pub total: Option<usize>,
}

#[derive(Debug, Default)]
pub struct Members {
    pub prefix: String,
    by_key: Stores,
    /// Ids of members passing the filter, in sort order: one sorted run per cluster, merged
    /// where read (a single cluster is one run). Each id has its sort prefix beside it
    /// ([`crate::model::sort_prefix`]; 0 under a sort other than by role).
    view: Runs<Row>,
    /// The groups of the view's rows and their labels, under the sort by role (empty otherwise).
    groups: Groups,
    pub sort: Option<SortColumn>,
    pub descending: bool,
    pub filter: Option<Filter>,
    role_counts: BTreeMap<String, usize>,
    /// Members per cluster, (all, shown by the filter), by `ClusterId`: kept as rows come and go,
    /// since every frame's title reads them.
    cluster_counts: Vec<(usize, usize)>,
    /// The selected member's key: the identity the cursor follows as rows move.
    selected: Option<Ident>,
    /// Where that member is in the view, and the scroll position.
    pub cursor: ListCursor,
    lost_selection: Option<Ident>,
    /// Members marked for a bulk action, by identity.
    marked: std::collections::BTreeSet<Ident>,
    /// Remaining-TTL deadlines by (cluster, lease), as last observed: lease ids are only unique
    /// within one etcd cluster.
    lease_expiry: HashMap<(ClusterId, i64), DateTime<Utc>, foldhash::fast::RandomState>,
    /// Members that flap: returns within the window, by key (only those that flap).
    /// By cluster, then key: a sort by flaps looks a member up by its key's bytes in every
    /// comparison, without building an identity.
    /// Hashed with foldhash: every watch put asks by the key's bytes (SipHash was ~2 % of the
    /// watch's CPU, BENCHMARKS.md). In parts: at a million members, one map's doubling was a
    /// 52 ms drain.
    flaps: HashMap<ClusterId, Parted<Arc<[u8]>, usize>, foldhash::fast::RandomState>,
    pub revision: i64,
    pub synced: bool,
    /// A listing under way: how far it got. Its first rows are shown meanwhile when no earlier
    /// listing is (`synced` false); a relist keeps the last full listing on screen.
    pub listing: Option<ListingProgress>,
    pub last_update: Option<DateTime<Utc>>,
    /// The session's cluster names by `ClusterId` (for `cluster:NAME` filters).
    pub cluster_names: Vec<String>,
    /// `:cluster NAME` in a merged view: only that cluster's members are shown.
    pub only: Option<ClusterId>,
    /// Large stores a listing replaced, for the caller to drop off the UI thread
    /// ([`Members::take_discarded`]): a million members freed one by one is tens of ms.
    discarded: Vec<Store>,
}

/// A replaced store at least this large is handed away rather than dropped in the update.
const DISCARD_AWAY: usize = 10_000;

impl Members {
    pub fn new(prefix: &str) -> Self {
        Members {
            prefix: prefix.to_string(),
            sort: Some(SortColumn::Role),
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn visible_len(&self) -> usize {
        self.view.len()
    }

    pub fn role_counts(&self) -> &BTreeMap<String, usize> {
        &self.role_counts
    }

    /// Every member, in no particular order (the filter ignored).
    pub fn all(&self) -> impl Iterator<Item = &Member> {
        self.by_key.iter().map(|(m, _)| m)
    }

    /// The member at `key` in the first cluster (a single-cluster session's only one).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<&Member> {
        self.get_in(ClusterId::default(), key)
    }

    /// The member at `key` in cluster `c`.
    pub fn get_in(&self, c: ClusterId, key: impl AsRef<[u8]>) -> Option<&Member> {
        self.by_key.get(c, key.as_ref())
    }

    /// How many members cluster `c` has (all of them, the filter ignored).
    pub fn count_in(&self, c: ClusterId) -> usize {
        self.cluster_counts.get(c.0 as usize).map_or(0, |n| n.0)
    }

    /// How many members of cluster `c` the filter shows.
    pub fn visible_in(&self, c: ClusterId) -> usize {
        self.cluster_counts.get(c.0 as usize).map_or(0, |n| n.1)
    }

    /// Counts member `c` in (`+1`) or out (`-1`) of its cluster's counts.
    fn count_cluster(&mut self, c: ClusterId, shown: bool, delta: isize) {
        let i = c.0 as usize;
        if self.cluster_counts.len() <= i {
            self.cluster_counts.resize(i + 1, (0, 0));
        }
        let n = &mut self.cluster_counts[i];
        n.0 = n.0.saturating_add_signed(delta);
        if shown {
            n.1 = n.1.saturating_add_signed(delta);
        }
    }

    /// Every cluster's counts from scratch (after a listing or a new filter).
    fn recount_clusters(&mut self) {
        let mut counts: Vec<(usize, usize)> = Vec::new();
        for (m, _) in self.by_key.iter() {
            let i = m.cluster.0 as usize;
            if counts.len() <= i {
                counts.resize(i + 1, (0, 0));
            }
            counts[i].0 += 1;
        }
        for row in self.view.iter_unordered() {
            let i = self.by_key.at(row.id).cluster.0 as usize;
            if let Some(n) = counts.get_mut(i) {
                n.1 += 1;
            }
        }
        self.cluster_counts = counts;
    }

    /// Visible member at position `i` of the sorted, filtered view.
    pub fn row(&self, i: usize) -> Option<&Member> {
        self.view
            .get(i, self.row_order())
            .map(|row| self.by_key.at(row.id))
    }

    /// The cursor's row. `None` until the user moves it (nothing is selected at start, so
    /// nothing looks scoped while nothing is), and after the selected member left the view.
    pub fn selected_index(&self) -> Option<usize> {
        self.selected.as_ref()?;
        self.cursor.index(self.view.len())
    }

    /// The member the cursor was on when it left the view (deleted, or filtered out), once:
    /// the scope that followed it clears, and the user is told which member it was.
    /// The key of the selected member that left the list, as drawn (escaped).
    pub fn take_lost_selection(&mut self) -> Option<String> {
        self.take_lost()
            .map(|(_, k)| crate::model::text::escape_bytes(&k).into_owned())
    }

    /// The selected member that left the list, by its cluster and raw key: the identity to
    /// act or decide on.
    pub fn take_lost(&mut self) -> Option<Ident> {
        self.lost_selection.take()
    }

    /// No row selected (Esc in the members pane).
    pub fn clear_selection(&mut self) {
        self.selected = None;
        self.cursor.select(None);
    }

    pub fn selected(&self) -> Option<&Member> {
        // By its identity: the cursor's row is that member (`resync_selection` keeps it so), and
        // reading a merged view's row by index would cost a split of every cluster's run.
        self.selected_index()?;
        let (c, key) = self.selected.as_ref()?;
        self.by_key.get(*c, key)
    }

    /// Whether `key` of the first cluster is marked.
    pub fn is_marked(&self, key: &[u8]) -> bool {
        self.is_marked_in(ClusterId::default(), key)
    }

    pub fn is_marked_in(&self, c: ClusterId, key: &[u8]) -> bool {
        self.marked.contains(&(c, Arc::from(key)))
    }

    pub fn marked_count(&self) -> usize {
        self.marked.len()
    }

    /// Marks exactly these members (a group's), dropping other marks.
    pub fn mark_only(&mut self, ids: &[Ident]) {
        self.marked = ids
            .iter()
            .filter(|(c, k)| self.by_key.get(*c, k).is_some())
            .cloned()
            .collect();
    }

    /// Marks (or unmarks) the member under the cursor.
    pub fn toggle_mark(&mut self) {
        if let Some(k) = self
            .selected
            .clone()
            .filter(|_| self.selected_index().is_some())
        {
            if !self.marked.remove(&k) {
                self.marked.insert(k);
            }
        }
    }

    /// Marks every member the filter shows.
    pub fn mark_all_visible(&mut self) {
        let by_key = &self.by_key;
        self.marked.extend(self.view.iter_unordered().map(|row| {
            let m = by_key.at(row.id);
            (m.cluster, Arc::<[u8]>::from(m.key()))
        }));
    }

    pub fn clear_marks(&mut self) {
        self.marked.clear();
    }

    /// The marked members, in the order the pane shows them.
    pub fn marked_in_view(&self) -> Vec<&Member> {
        if self.marked.is_empty() {
            return Vec::new();
        }
        // The marks are few and the view may be long: the marked members shown, sorted.
        let mut shown: Vec<&Member> = self
            .marked
            .iter()
            .filter_map(|(c, k)| self.by_key.get(*c, k))
            .filter(|m| self.passes(m))
            .collect();
        shown.sort_by(|a, b| self.compare(a, b));
        shown
    }

    /// How often `key` came back within the flapping window (0: steady), for sorting.
    pub fn set_flaps(&mut self, key: &[u8], n: usize) {
        self.set_flaps_in(ClusterId::default(), key, n)
    }

    /// [`Members::set_flaps`] of cluster `c`'s `key` (the same key elsewhere is another member).
    pub fn set_flaps_in(&mut self, c: ClusterId, key: &[u8], n: usize) {
        if n == 0 {
            let Some(keys) = self.flaps.get_mut(&c) else {
                return;
            };
            if keys.remove(key).is_none() {
                return;
            }
            if keys.is_empty() {
                self.flaps.remove(&c);
            }
        } else if let Some(old) = self.flaps.get_mut(&c).and_then(|keys| keys.get_mut(key)) {
            *old = n;
        } else {
            self.flaps.entry(c).or_default().insert(Arc::from(key), n);
        }
        if self.sort == Some(SortColumn::Flaps) {
            self.rebuild_view();
        }
    }

    /// A lease of the first cluster's remaining seconds.
    pub fn lease_remaining(&self, lease: i64, now: DateTime<Utc>) -> Option<i64> {
        self.lease_remaining_in(ClusterId::default(), lease, now)
    }

    pub fn lease_remaining_in(&self, c: ClusterId, lease: i64, now: DateTime<Utc>) -> Option<i64> {
        if lease == 0 {
            return None;
        }
        self.lease_expiry
            .get(&(c, lease))
            .map(|exp| (*exp - now).num_seconds().max(0))
    }

    // ---- updates from the source ----

    /// Replace everything with a consistent listing; keys absent from it vanish (reconcile after a
    /// compaction or reconnect), and the selection stays on the same key when it still exists.
    pub fn apply_snapshot(&mut self, revision: i64, entries: Vec<KvEntry>, at: DateTime<Utc>) {
        let members: Vec<Member> = entries
            .into_iter()
            .map(|e| Member::from_entry(&self.prefix, e, None))
            .collect();
        self.apply_listing(revision, members, at);
    }

    /// [`apply_snapshot`](Self::apply_snapshot) with the members already built (by the etcd source,
    /// while the listing arrived), and perhaps prepared there ([`Listing::prepare`]).
    pub fn apply_listing(&mut self, revision: i64, members: impl Into<Listing>, at: DateTime<Utc>) {
        self.apply_listing_in(ClusterId::default(), revision, members, at)
    }

    /// A listing of cluster `c`: replaces that cluster's members only; the other clusters' stay
    /// as they are (a merged view). The cluster's store is the listing's (built by its source,
    /// off the UI thread, or here for a plain listing) and its run of the view is the listing's
    /// rows as they are when the view is in the default order with no filter and no other
    /// cluster's rows (then this is O(1) in the listing's size, apart from a relist's old
    /// members); otherwise it is sorted anew. The other clusters' stores and runs are not
    /// touched, so ten clusters' listings cost what one listing of all their members does.
    pub fn apply_listing_in(
        &mut self,
        c: ClusterId,
        revision: i64,
        listing: impl Into<Listing>,
        at: DateTime<Utc>,
    ) {
        // Not taken by the caller since the last listing: dropped here, as they always were.
        self.discarded.clear();
        let Prepared {
            mut store,
            rows,
            groups,
            role_counts,
            ..
        } = listing.into().into_prepared(c);
        if let Some(old) = self.by_key.of(c) {
            // Keep a creation time we observed live earlier; a listing cannot tell us one. Few
            // members have one: those are looked up, not every listed member.
            for (m, _) in old.iter().filter(|(m, _)| m.seen_at().is_some()) {
                if let Some(id) = store.id(c, m.key()) {
                    store.at_mut(id).inherit_seen_at(m);
                }
            }
        }
        // The old run's rows out of the view and its groups first: its ids are the old store's.
        let ci = c.0 as usize;
        if self.view.len() == self.view.run_len(ci) {
            self.groups.clear();
        } else if self.uses_prefix() {
            for row in self.view.run(ci) {
                self.groups.remove(self.by_key.at(row.id));
            }
        }
        self.view.set_run(ci, Vec::new());
        let total = store.len();
        let old = self.by_key.replace(c, store);
        if self.by_key.len() == total {
            // The only cluster with members: its counts are the listing's.
            self.role_counts = role_counts;
        } else {
            for (m, _) in old.iter() {
                uncount_role(&mut self.role_counts, m.role());
            }
            for (role, n) in role_counts {
                *self.role_counts.entry(role).or_default() += n;
            }
        }
        if old.len() >= DISCARD_AWAY {
            self.discarded.push(old);
        }
        // A mark stays on a member the listing still has.
        let by_key = &self.by_key;
        self.marked
            .retain(|(mc, k)| *mc != c || by_key.get(c, k).is_some());
        // Every member of the listing shown, in the default order: the listing's rows are this
        // cluster's run (descending: their exact reverse, the order being total).
        let as_listed =
            self.uses_prefix() && self.filter.is_none() && self.only.is_none_or(|o| o == c);
        let run: Vec<Row> = if as_listed && self.view.is_empty() {
            // Its rows alone: their groups are the view's.
            self.groups = groups;
            let mut rows = rows;
            if self.descending {
                rows.reverse();
            }
            rows
        } else if as_listed {
            // Beside other clusters' rows: its groups counted into the view's, its rows given
            // the view's labels (one pass, no member read).
            let mut rows = self.relabelled_rows(rows, &groups);
            if self.descending {
                rows.reverse();
            }
            rows
        } else {
            drop((rows, groups));
            self.sorted_run(c)
        };
        let shown = run.len();
        self.view.set_run(ci, run);
        let i = ci;
        if self.cluster_counts.len() <= i {
            self.cluster_counts.resize(i + 1, (0, 0));
        }
        self.cluster_counts[i] = (total, shown);
        self.revision = if self.cluster_counts.len() > 1 {
            self.revision.max(revision)
        } else {
            revision
        };
        self.synced = true;
        self.listing = None;
        self.last_update = Some(at);
        self.resync_selection();
    }

    /// A prepared listing's `rows` (labelled by its own `groups`) with the labels of the view's
    /// groups, every group of the listing counted in (its run of the view is empty).
    fn relabelled_rows(&mut self, mut rows: Vec<Row>, groups: &Groups) -> Vec<Row> {
        let mut moved = false;
        for (key, _, n) in groups.iter() {
            moved |= self.groups.add_rows(key, n).1;
        }
        // The listing's labels and the view's, in the same (the groups') order.
        let labels: Vec<(u32, u32)> = groups
            .iter()
            .map(|(key, label, _)| (label, self.groups.label(key).unwrap_or(0)))
            .collect();
        let mut at = 0;
        for row in &mut rows {
            let g = row.group();
            if labels.get(at).is_none_or(|l| l.0 != g) {
                at = labels.partition_point(|l| l.0 < g);
            }
            if let Some(&(_, label)) = labels.get(at) {
                row.set_group(label);
            }
        }
        if moved {
            // Every label moved: the other clusters' rows take theirs (this run is empty yet).
            self.refresh_prefixes();
        }
        rows
    }

    /// Cluster `c`'s run of the view from its store (its run is empty): the members the filter
    /// shows, their groups counted in, sorted. The store's slots are in the default order, so
    /// under it the stable sort is one pass.
    fn sorted_run(&mut self, c: ClusterId) -> Vec<Row> {
        let mut order: Vec<(u64, &Member, u32)> = Vec::new();
        let mut groups = std::mem::take(&mut self.groups);
        let prefixed = self.uses_prefix();
        let mut relabelled = false;
        for (m, id) in self.by_key.iter_in(c) {
            if self.passes(m) {
                let (p, r) = if prefixed { groups.add(m) } else { (0, false) };
                relabelled |= r;
                order.push((p, m, id));
            }
        }
        if relabelled {
            for (p, m, _) in &mut order {
                *p = groups.prefix(m).unwrap_or(0);
            }
        }
        order.sort_by(|a, b| self.prefixed_cmp(a.0, b.0, || self.compare(a.1, b.1)));
        let run: Vec<Row> = order
            .into_iter()
            .map(|(p, _, id)| Row::new(p, id))
            .collect();
        self.groups = groups;
        if relabelled {
            // Every label moved: the other clusters' rows take theirs (this run is empty yet).
            self.refresh_prefixes();
        }
        run
    }

    /// The stores listings replaced since the last call, to be dropped where it does not hold
    /// up the UI (a relist of 1M members).
    pub fn take_discarded(&mut self) -> Vec<Store> {
        std::mem::take(&mut self.discarded)
    }

    /// A listing under way (`Msg::MembersProgress`): its progress for the title, and its first
    /// rows while no full listing is on screen (they may still move; the listing replaces them).
    pub fn apply_progress(
        &mut self,
        c: ClusterId,
        revision: i64,
        preview: Vec<Member>,
        listed: usize,
        total: Option<usize>,
        at: DateTime<Utc>,
    ) {
        // Reports come from several reading tasks: keep the furthest of this listing's.
        let progress = match self.listing {
            Some(p) if p.revision == revision => ListingProgress {
                revision,
                listed: p.listed.max(listed),
                total: total.or(p.total),
            },
            _ => ListingProgress {
                revision,
                listed,
                total,
            },
        };
        self.listing = Some(progress);
        if !self.synced {
            for m in preview {
                self.upsert(m.in_cluster(c));
            }
        }
        self.last_update = Some(at);
    }

    /// The listing under way stopped (the session was lost): nothing is being listed.
    pub fn listing_stopped(&mut self) {
        self.listing = None;
    }

    pub fn apply_events(&mut self, events: Vec<KvEvent>, at: DateTime<Utc>) {
        self.apply_events_in(ClusterId::default(), events, at)
    }

    /// Watch events of cluster `c`'s etcd.
    pub fn apply_events_in(&mut self, c: ClusterId, events: Vec<KvEvent>, at: DateTime<Utc>) {
        for ev in &events {
            self.apply_event_in(c, ev, at);
        }
        self.last_update = Some(at);
    }

    /// One watch event of cluster `c`'s etcd (the caller sets `last_update` once for its batch
    /// with [`Members::events_applied`]); returns the lease the key was on before it (`None`: the
    /// key was absent), which is what the churn rule needs. The member is looked up once: at
    /// 100k members each lookup is a cache miss or two (its slot, its key), and the churn
    /// bookkeeping, the creation time and the upsert each looked it up again.
    pub fn apply_event_in(&mut self, c: ClusterId, ev: &KvEvent, at: DateTime<Utc>) -> Option<i64> {
        match ev {
            KvEvent::Put(entry) => {
                self.revision = self.revision.max(entry.mod_revision);
                let id = self.by_key.id(c, &entry.key);
                let old = id.map(|id| self.by_key.at(id));
                let before = old.map(|m| m.lease);
                let seen = (entry.version == 1).then_some(at);
                let prior_started = old
                    .filter(|m| m.create_revision == entry.create_revision)
                    .and_then(Member::seen_at);
                let m = Member::from_entry_ref(&self.prefix, entry, seen.or(prior_started))
                    .in_cluster(c);
                self.upsert_at(id, m);
                before
            }
            KvEvent::Delete { key, mod_revision } => {
                self.revision = self.revision.max(*mod_revision);
                self.remove(c, key).map(|m| m.lease)
            }
        }
    }

    /// A batch of events applied one by one with [`Members::apply_event_in`] is done.
    pub fn events_applied(&mut self, at: DateTime<Utc>) {
        self.last_update = Some(at);
    }

    /// Brings the members to exactly `members` — the same prefix at another revision (the time
    /// cursor stepping) — applying only the difference: a step costs what changed between the two
    /// revisions plus a lookup per member, not a rebuild of the whole index and view.
    pub fn patch_to(&mut self, revision: i64, members: Vec<Member>, at: DateTime<Utc>) {
        // One index lookup per member; a flag per slot says which of ours the new set still has
        // (no second hash set of 100k keys).
        let mut kept = self.by_key.flags();
        let mut changed = Vec::new();
        for m in members {
            match self.by_key.id(m.cluster, m.key()) {
                Some(id) => {
                    *Stores::flag(&mut kept, id) = true;
                    if self.by_key.at(id).mod_revision != m.mod_revision {
                        changed.push(m);
                    }
                }
                None => changed.push(m),
            }
        }
        let gone: Vec<Ident> = self
            .by_key
            .iter()
            .filter(|(_, id)| !*Stores::flag(&mut kept, *id))
            .map(|(m, _)| (m.cluster, Arc::<[u8]>::from(m.key())))
            .collect();
        for (c, key) in gone {
            self.remove(c, &key);
        }
        for m in changed {
            self.upsert(m);
        }
        self.revision = revision;
        self.last_update = Some(at);
    }

    pub fn apply_lease_ttls(&mut self, ttls: &[(i64, i64)], at: DateTime<Utc>) {
        self.apply_lease_ttls_in(ClusterId::default(), ttls, at)
    }

    pub fn apply_lease_ttls_in(&mut self, c: ClusterId, ttls: &[(i64, i64)], at: DateTime<Utc>) {
        for &(lease, ttl) in ttls {
            if ttl < 0 {
                self.lease_expiry.insert((c, lease), at);
            } else {
                self.lease_expiry
                    .insert((c, lease), at + chrono::Duration::seconds(ttl));
            }
        }
        // Leases no member holds any more (revoked, expired, the instance registered again on a
        // new lease) would stay here for the console's lifetime: a fleet that restarts all day
        // grows this by a lease per restart (found by the soak bench). Checked only once there
        // are more leases than members, so the scan is amortised.
        if self.lease_expiry.len() > self.by_key.len() {
            let held: std::collections::HashSet<(ClusterId, i64)> =
                self.all().map(|m| (m.cluster, m.lease)).collect();
            self.lease_expiry.retain(|lease, _| held.contains(lease));
        }
        if self.sort == Some(SortColumn::Ttl) {
            self.rebuild_view();
        }
    }

    // ---- user actions ----

    pub fn set_filter(&mut self, filter: Option<Filter>) {
        self.filter = filter;
        self.rebuild_view();
    }

    pub fn cycle_sort(&mut self) {
        self.sort = Some(self.sort.unwrap_or(SortColumn::Role).next());
        self.rebuild_view();
    }

    pub fn reverse_sort(&mut self) {
        self.descending = !self.descending;
        self.rebuild_view();
    }

    pub fn move_selection(&mut self, delta: isize) {
        if let Some(i) = self.cursor.target(delta, self.view.len()) {
            self.select_index(i);
        }
    }

    pub fn select_index(&mut self, i: usize) {
        if self.view.is_empty() {
            self.clear_selection();
            return;
        }
        let i = i.min(self.view.len() - 1);
        self.cursor.select(Some(i));
        self.selected = self.view.get(i, self.row_order()).map(|row| {
            let m = self.by_key.at(row.id);
            (m.cluster, Arc::<[u8]>::from(m.key()))
        });
    }

    /// Keeps the selection on screen after the rows or the pane's height changed.
    pub fn fit(&mut self) {
        self.cursor.fit(self.view.len());
    }

    /// Selects `key` of the first cluster.
    pub fn select_key(&mut self, key: impl AsRef<[u8]>) -> bool {
        self.select_in(ClusterId::default(), key)
    }

    pub fn select_in(&mut self, c: ClusterId, key: impl AsRef<[u8]>) -> bool {
        let Some(m) = self.by_key.get(c, key.as_ref()) else {
            return false;
        };
        if let Ok(i) = self.position_of(m) {
            self.select_index(i);
            return true;
        }
        false
    }

    // ---- internals ----

    fn compare(&self, a: &Member, b: &Member) -> Ordering {
        let by_column = match self.sort {
            None | Some(SortColumn::Role) => by_role_and_instance(a, b),
            Some(SortColumn::Instance) => natural_cmp(a.instance(), b.instance()),
            Some(SortColumn::Addr) => natural_cmp(a.addr(), b.addr()),
            Some(SortColumn::Ttl) => {
                let ttl = |m: &Member| self.lease_expiry.get(&(m.cluster, m.lease)).copied();
                // Unknown TTLs (no lease, not yet polled) sort after known ones.
                match (ttl(a), ttl(b)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            }
            // Oldest first: started earlier = older.
            Some(SortColumn::Age) => match (a.started_at(), b.started_at()) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
            Some(SortColumn::Version) => natural_cmp(a.version_label(), b.version_label()),
            Some(SortColumn::Flaps) => {
                let flaps = |m: &Member| {
                    self.flaps
                        .get(&m.cluster)
                        .and_then(|keys| keys.get(m.key()))
                        .copied()
                        .unwrap_or(0)
                };
                flaps(b).cmp(&flaps(a))
            }
        };
        let ord = by_column
            .then_with(|| a.key().cmp(b.key()))
            .then_with(|| a.cluster.cmp(&b.cluster));
        if self.descending {
            ord.reverse()
        } else {
            ord
        }
    }

    fn position_of(&self, m: &Member) -> Result<usize, usize> {
        match self.prefix_of(m) {
            Some(p) => self.locate(m, p).0,
            // Under the sort by role, a member whose group has no rows is not in the view.
            None => Err(0),
        }
    }

    /// Where `m`, with sort prefix `p`, is (or would be) in the view, and in its cluster's run of
    /// it. The search compares prefixes, read from the view itself, and reads a member only
    /// where they tie.
    fn locate(&self, m: &Member, p: u64) -> (Result<usize, usize>, Result<usize, usize>) {
        self.view.search(m.cluster.0 as usize, |row| {
            self.prefixed_cmp(row.prefix(), p, || self.compare(self.by_key.at(row.id), m))
        })
    }

    /// Whether the view's rows carry sort prefixes: under the sort by role (the default).
    fn uses_prefix(&self) -> bool {
        matches!(self.sort, None | Some(SortColumn::Role))
    }

    /// The prefix `m`'s row has (or would have) in the view; `None` under the sort by role when
    /// no row of its group is there (so neither is it).
    fn prefix_of(&self, m: &Member) -> Option<u64> {
        if self.uses_prefix() {
            self.groups.prefix(m)
        } else {
            Some(0)
        }
    }

    /// Two rows' order from their prefixes, `full` (the members' comparison) where they tie.
    fn prefixed_cmp(&self, a: u64, b: u64, full: impl FnOnce() -> Ordering) -> Ordering {
        match a.cmp(&b) {
            Ordering::Equal => full(),
            o if self.descending => o.reverse(),
            o => o,
        }
    }

    /// The view's order of two rows (the runs' merge follows it).
    fn row_order(&self) -> impl Fn(&Row, &Row) -> Ordering + '_ {
        |a, b| {
            self.prefixed_cmp(a.prefix(), b.prefix(), || {
                self.compare(self.by_key.at(a.id), self.by_key.at(b.id))
            })
        }
    }

    /// Every row's prefix looked up again (the groups were labelled anew).
    fn refresh_prefixes(&mut self) {
        let (groups, by_key) = (&self.groups, &self.by_key);
        self.view.update_all(|row| {
            let p = groups.prefix(by_key.at(row.id)).unwrap_or(0);
            row.set_prefix(p);
        });
    }

    fn passes(&self, m: &Member) -> bool {
        if self.only.is_some_and(|c| c != m.cluster) {
            return false;
        }
        match &self.filter {
            None => true,
            Some(f) if f.cluster.is_some() && !f.matches_cluster(self.cluster_name(m.cluster)) => {
                false
            }
            Some(f) => f.matches_any(&[
                m.key_text(),
                m.addr(),
                m.version_label(),
                m.role(),
                m.instance(),
            ]),
        }
    }

    fn upsert(&mut self, m: Member) {
        let id = self.by_key.id(m.cluster, m.key());
        self.upsert_at(id, m)
    }

    /// [`Members::upsert`] with the id of `m`'s key already looked up (`None`: a new key).
    fn upsert_at(&mut self, id: Option<u32>, m: Member) {
        if let Some(id) = id {
            let old = self.by_key.at(id);
            // Same place in the view (a value change that touches no sort column, e.g. under the
            // default role sort): replace it, nothing moves.
            if self.passes(old) == self.passes(&m) && self.compare(old, &m) == Ordering::Equal {
                self.by_key.replace_at(id, m);
                return;
            }
            self.unlink(m.cluster, m.key());
        }
        count_role(&mut self.role_counts, m.role());
        let visible = self.passes(&m);
        self.count_cluster(m.cluster, visible, 1);
        let pos = if visible {
            let prefix = if self.uses_prefix() {
                let (prefix, relabelled) = self.groups.add(&m);
                if relabelled {
                    self.refresh_prefixes();
                }
                prefix
            } else {
                0
            };
            let (global, local) = self.locate(&m, prefix);
            Some((
                global.unwrap_or_else(|p| p),
                local.unwrap_or_else(|p| p),
                prefix,
            ))
        } else {
            None
        };
        let run = m.cluster.0 as usize;
        let id = self.by_key.put(m);
        if let Some((p, local, prefix)) = pos {
            self.view.insert(run, local, Row::new(prefix, id));
            match self.cursor.raw() {
                Some(i) if self.selected.is_some() && p <= i => self.cursor.select(Some(i + 1)),
                _ => {}
            }
        }
        self.resync_selection();
    }

    /// Takes cluster `c`'s `key` out; returns its member, if it had one.
    fn remove(&mut self, c: ClusterId, key: &[u8]) -> Option<Member> {
        // Checked first: the identity to look for is a copy of the key (a watch delete each).
        if !self.marked.is_empty() {
            self.marked.remove(&(c, Arc::from(key)));
        }
        if !self.unlink(c, key) {
            return None;
        }
        let m = self.by_key.remove(c, key);
        self.resync_selection();
        m
    }

    /// Takes the member at `key` out of the view and counts (it stays in `by_key` for the caller
    /// to replace or remove); false when there is none.
    fn unlink(&mut self, c: ClusterId, key: &[u8]) -> bool {
        let Some(old) = self.by_key.get(c, key) else {
            return false;
        };
        let pos = match self.prefix_of(old).map(|p| self.locate(old, p)) {
            Some((Ok(p), Ok(local))) => Some((p, local)),
            _ => None,
        };
        let shown = pos.is_some();
        let cluster = old.cluster;
        if shown && self.uses_prefix() {
            self.groups.remove(old);
        }
        if let Some(c) = self.role_counts.get_mut(old.role()) {
            *c -= 1;
            if *c == 0 {
                self.role_counts.remove(old.role());
            }
        }
        self.count_cluster(cluster, shown, -1);
        if let Some((p, local)) = pos {
            self.view.remove(cluster.0 as usize, local);
            match self.cursor.raw() {
                Some(i) if self.selected.is_some() && p < i => self.cursor.select(Some(i - 1)),
                _ => {}
            }
        }
        true
    }

    /// Keeps the cursor on the same key when rows move. When that key left the view (deleted,
    /// or filtered out), nothing is selected any more: a cursor that silently moved to the
    /// neighbour would scope every other pane to a member the user never chose.
    fn resync_selection(&mut self) {
        let Some((c, key)) = self.selected.clone() else {
            return;
        };
        // Its place found again: one binary search per cluster's run (reading the row at the
        // cursor's index of a merged view would cost a split of every run).
        if let Some(m) = self.by_key.get(c, &key) {
            if let Ok(i) = self.position_of(m) {
                if self.cursor.raw() != Some(i) {
                    self.cursor.select(Some(i));
                }
                return;
            }
        }
        self.lost_selection = Some((c, key));
        self.clear_selection();
    }

    fn rebuild_view(&mut self) {
        // Sort the members themselves: looking each key up again in every comparison cost two
        // hash lookups per comparison (millions for 100k members).
        let mut runs: Vec<Vec<(&Member, u32)>> = Vec::new();
        for (m, id) in self.by_key.iter().filter(|(m, _)| self.passes(m)) {
            let r = m.cluster.0 as usize;
            if runs.len() <= r {
                runs.resize_with(r + 1, Vec::new);
            }
            runs[r].push((m, id));
        }
        // The groups of the rows anew, and each row's prefix (looked up again after the last
        // group was added when the labels moved on the way).
        let mut groups = Groups::default();
        let mut runs: Vec<Vec<(u64, &Member, u32)>> = if self.uses_prefix() {
            let mut relabelled = false;
            let mut runs: Vec<Vec<(u64, &Member, u32)>> = runs
                .into_iter()
                .map(|rows| {
                    rows.into_iter()
                        .map(|(m, id)| {
                            let (p, r) = groups.add(m);
                            relabelled |= r;
                            (p, m, id)
                        })
                        .collect()
                })
                .collect();
            if relabelled {
                for (p, m, _) in runs.iter_mut().flatten() {
                    *p = groups.prefix(m).unwrap_or(0);
                }
            }
            runs
        } else {
            runs.into_iter()
                .map(|rows| rows.into_iter().map(|(m, id)| (0, m, id)).collect())
                .collect()
        };
        let mut view = Runs::default();
        for (r, rows) in runs.iter_mut().enumerate() {
            rows.sort_unstable_by(|a, b| self.prefixed_cmp(a.0, b.0, || self.compare(a.1, b.1)));
            view.set_run(r, rows.iter().map(|&(p, _, id)| Row::new(p, id)).collect());
        }
        drop(runs);
        self.view = view;
        self.groups = groups;
        let mut counts = BTreeMap::new();
        for (m, _) in self.by_key.iter() {
            count_role(&mut counts, m.role());
        }
        self.role_counts = counts;
        self.recount_clusters();
        self.resync_selection();
    }

    fn cluster_name(&self, c: ClusterId) -> &str {
        self.cluster_names
            .get(c.0 as usize)
            .map_or("", String::as_str)
    }

    /// `:cluster NAME` / `:cluster *` in a merged view: one cluster's members, or all again.
    pub fn narrow(&mut self, only: Option<ClusterId>) {
        self.only = only;
        self.rebuild_view();
    }

    /// Keys of rows `[from, from+n)` of the view: what is on screen.
    pub fn visible_rows(&self, from: usize, n: usize) -> impl Iterator<Item = &Member> {
        self.view
            .iter_from(from, self.row_order())
            .take(n)
            .map(|row| self.by_key.at(row.id))
    }
}

/// `cmd` for cluster `c`'s source: as it is for the first cluster (a single cluster's only one).
pub fn in_cluster(c: ClusterId, cmd: Command) -> Command {
    if c == ClusterId::default() {
        cmd
    } else {
        Command::InCluster(c, Box::new(cmd))
    }
}

/// Adds one to `role`'s count, allocating its name only the first time it is seen.
impl PaneState for Members {
    fn name(&self) -> &'static str {
        "members"
    }

    fn filterable(&self) -> bool {
        true
    }

    fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    fn set_filter(&mut self, filter: Option<Filter>) -> Result<(), String> {
        Members::set_filter(self, filter);
        Ok(())
    }

    fn filter_counts(&self) -> (usize, usize, &'static str) {
        (self.visible_len(), self.len(), "members")
    }

    fn sort_columns(&self) -> &'static [&'static str] {
        &[
            "role", "instance", "address", "ttl", "age", "version", "flaps",
        ]
    }

    fn sort_by(&mut self, column: &str) -> Result<(), String> {
        let i = self
            .sort_columns()
            .iter()
            .position(|c| c.eq_ignore_ascii_case(column) || (column == "addr" && *c == "address"))
            .ok_or_else(|| {
                format!(
                    "no column \"{column}\" in members — sort by {}",
                    self.sort_columns().join(", ")
                )
            })?;
        self.sort = Some(SortColumn::ALL[i]);
        self.descending = false;
        self.rebuild_view();
        Ok(())
    }

    fn on_action(&mut self, action: Action, _ctx: &PaneCtx) -> Reaction {
        match action {
            Action::Down => self.move_selection(1),
            Action::Up => self.move_selection(-1),
            Action::PageDown => self.move_selection(self.cursor.page()),
            Action::PageUp => self.move_selection(-self.cursor.page()),
            Action::Top => self.select_index(0),
            Action::Bottom => self.select_index(usize::MAX),
            Action::SortNext => self.cycle_sort(),
            Action::SortReverse => self.reverse_sort(),
            Action::Detail => {
                if let Some(sel) = self.selected() {
                    let key = sel.key().to_vec();
                    let mod_revision = sel.mod_revision;
                    let cluster = sel.cluster;
                    let fetch = Command::FetchHistory {
                        key: key.clone(),
                        mod_revision,
                    };
                    return Reaction {
                        popup: Some(Popup::MemberDetail {
                            key,
                            cluster,
                            scroll: 0,
                            history: None,
                        }),
                        // The history is read from the member's own etcd.
                        commands: vec![in_cluster(cluster, fetch)],
                        ..Default::default()
                    };
                }
            }
            Action::Copy => {
                return match self.selected() {
                    Some(m) => Reaction::copy(format!(
                        "{} {}",
                        crate::model::text::escape_bytes(m.key()),
                        m.addr()
                    )),
                    None => Reaction::info("no member selected"),
                }
            }
            _ => {}
        }
        Reaction::default()
    }
}

/// Takes one from `role`'s count, forgetting a role nobody has any more.
fn uncount_role(counts: &mut BTreeMap<String, usize>, role: &str) {
    if let Some(n) = counts.get_mut(role) {
        *n -= 1;
        if *n == 0 {
            counts.remove(role);
        }
    }
}

fn count_role(counts: &mut BTreeMap<String, usize>, role: &str) {
    match counts.get_mut(role) {
        Some(c) => *c += 1,
        None => {
            counts.insert(role.to_string(), 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::{Just, Strategy};

    use super::*;

    fn entry(key: &str, value: &str, rev: i64) -> KvEntry {
        KvEntry {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            lease: 0,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn keys(m: &Members) -> Vec<String> {
        (0..m.visible_len())
            .map(|i| m.row(i).unwrap().key_text().to_string())
            .collect()
    }

    #[test]
    fn patching_to_another_revision_gives_what_a_fresh_listing_gives() {
        let members = |entries: Vec<KvEntry>| -> Vec<Member> {
            entries
                .into_iter()
                .map(|e| Member::from_entry("/services/", e, None))
                .collect()
        };
        let then = vec![
            entry(
                "/services/web/web-2",
                r#"{"addr":"10.0.0.2:80","version":"1.1"}"#,
                7,
            ),
            entry("/services/api/api-1", "10.0.3.1:80", 5),
            entry("/services/web/web-10", r#"{"addr":"10.0.0.10:80"}"#, 3),
        ];
        for sort in [None, Some(SortColumn::Role), Some(SortColumn::Version)] {
            let mut patched = sample();
            patched.sort = sort;
            patched.rebuild_view();
            patched.patch_to(7, members(then.clone()), now());
            let mut fresh = Members::new("/services/");
            fresh.sort = sort;
            fresh.apply_listing(7, members(then.clone()), now());
            assert_eq!(keys(&patched), keys(&fresh), "{sort:?}");
            assert_eq!(patched.role_counts(), fresh.role_counts());
            assert_eq!(patched.len(), 3);
            assert_eq!(patched.revision, 7);
            assert_eq!(
                patched.get("/services/web/web-2").unwrap().mod_revision,
                7,
                "the changed member is the new revision's"
            );
        }
    }

    fn sample() -> Members {
        let mut m = Members::new("/services/");
        m.apply_snapshot(
            10,
            vec![
                entry("/services/web/web-10", r#"{"addr":"10.0.0.10:80"}"#, 3),
                entry("/services/web/web-2", r#"{"addr":"10.0.0.2:80"}"#, 2),
                entry("/services/redis/redis-1", "10.0.1.1:6379", 1),
            ],
            now(),
        );
        m
    }

    #[test]
    fn member_names_come_from_the_key_and_fields_from_the_value() {
        let web1 = || {
            Member::from_entry(
                "/services/",
                entry(
                    "/services/web/eu/web-1",
                    r#"{"addr":"10.0.0.1","port":80,"version":"2.1"}"#,
                    1,
                ),
                None,
            )
        };
        let m = web1();
        assert_eq!((m.role(), m.instance()), ("web", "eu/web-1"));
        assert_eq!((m.addr(), m.version_label()), ("10.0.0.1:80", "2.1"));
        // Parsed or not, the same registration is the same member.
        let fresh = web1();
        assert_eq!(m, fresh);

        let bare = Member::from_entry(
            "/services/",
            entry("/services//lonely", "10.0.0.9:1", 1),
            None,
        );
        assert_eq!(
            (
                bare.role(),
                bare.instance(),
                bare.addr(),
                bare.version_label()
            ),
            ("-", "lonely", "10.0.0.9:1", "")
        );
        let outside = Member::from_entry("/services/", entry("/other/db/db-1", "x", 1), None);
        assert_eq!((outside.role(), outside.instance()), ("other", "db/db-1"));

        // Escape sequences in a key never reach the screen.
        let evil = Member::from_entry(
            "/services/",
            entry("/services/w\x1b[2Jeb/i\x07-1", "", 1),
            None,
        );
        assert!(
            !evil.role().contains('\x1b')
                && evil.role().starts_with('w')
                && evil.role().ends_with("eb")
        );
        assert!(!evil.instance().contains('\x07') && evil.instance().ends_with("-1"));
        let evil_role_only =
            Member::from_entry("/services/", entry("/services/\x1b[0m", "", 1), None);
        assert_eq!(evil_role_only.role(), "-");
        assert!(!evil_role_only.instance().contains('\x1b'));

        // No start time in the value: when we saw it created, if we did.
        let seen = now();
        let live = Member::from_entry("/services/", entry("/services/a/b", "{}", 1), Some(seen));
        assert_eq!(live.started_at(), Some(seen));
    }

    #[test]
    fn snapshot_sorts_by_role_then_natural_instance() {
        let m = sample();
        assert_eq!(
            keys(&m),
            [
                "/services/redis/redis-1",
                "/services/web/web-2",
                "/services/web/web-10"
            ]
        );
        assert_eq!(m.role_counts().get("web"), Some(&2));
        assert_eq!(m.row(0).unwrap().addr(), "10.0.1.1:6379");
    }

    #[test]
    fn reconcile_removes_ghosts() {
        let mut m = sample();
        m.apply_snapshot(20, vec![entry("/services/web/web-2", "{}", 2)], now());
        assert_eq!(keys(&m), ["/services/web/web-2"]);
        assert_eq!(m.role_counts().len(), 1);
        assert_eq!(m.revision, 20);
    }

    #[test]
    fn events_insert_update_delete_in_place() {
        let mut m = sample();
        m.apply_events(
            vec![
                KvEvent::Put(entry("/services/web/web-3", "{}", 11)),
                KvEvent::Delete {
                    key: "/services/redis/redis-1".into(),
                    mod_revision: 12,
                },
            ],
            now(),
        );
        assert_eq!(
            keys(&m),
            [
                "/services/web/web-2",
                "/services/web/web-3",
                "/services/web/web-10"
            ]
        );
        assert_eq!(m.revision, 12);
        assert!(m.role_counts().get("redis").is_none());
        // a live-observed creation gets an age
        assert_eq!(
            m.get("/services/web/web-3").unwrap().started_at(),
            Some(now())
        );
    }

    #[test]
    fn selection_stays_on_key_when_rows_move() {
        let mut m = sample();
        m.select_key("/services/web/web-2");
        assert_eq!(m.selected_index(), Some(1));
        // a member sorting before it arrives: cursor follows web-2 to index 2
        m.apply_events(
            vec![KvEvent::Put(entry("/services/app/a-1", "{}", 11))],
            now(),
        );
        assert_eq!(m.selected().unwrap().key_text(), "/services/web/web-2");
        assert_eq!(m.selected_index(), Some(2));
        // the selected member leaves: nothing is selected (never the neighbour), once told
        m.apply_events(
            vec![KvEvent::Delete {
                key: "/services/web/web-2".into(),
                mod_revision: 12,
            }],
            now(),
        );
        assert_eq!(m.selected_index(), None);
        assert_eq!(
            m.take_lost_selection().as_deref(),
            Some("/services/web/web-2")
        );
        assert_eq!(m.take_lost_selection(), None);
        // the next move starts from the first row
        m.move_selection(1);
        assert_eq!(m.selected_index(), Some(0));
    }

    #[test]
    fn filter_is_regex_and_invertible() {
        let mut m = sample();
        m.set_filter(Filter::parse("web-(2|10)$").unwrap());
        assert_eq!(keys(&m).len(), 2);
        m.set_filter(Filter::parse("!redis").unwrap());
        assert_eq!(keys(&m).len(), 2);
        // events respect the active filter
        m.apply_events(
            vec![KvEvent::Put(entry("/services/redis/redis-2", "{}", 11))],
            now(),
        );
        assert_eq!(keys(&m).len(), 2);
        assert!(Filter::parse("(").is_err());
        assert!(Filter::parse("").unwrap().is_none());
    }

    #[test]
    fn sort_cycles_and_reverses() {
        let mut m = sample();
        m.cycle_sort(); // instance
        assert_eq!(m.sort, Some(SortColumn::Instance));
        assert_eq!(m.row(0).unwrap().instance(), "redis-1");
        m.cycle_sort(); // addr
        assert_eq!(m.row(0).unwrap().addr(), "10.0.0.2:80");
        m.reverse_sort();
        assert_eq!(m.row(0).unwrap().addr(), "10.0.1.1:6379");
    }

    #[test]
    fn updating_a_value_moves_the_row() {
        let mut m = sample();
        m.cycle_sort();
        m.cycle_sort(); // addr
        let mut e = entry("/services/web/web-2", r#"{"addr":"10.9.9.9:80"}"#, 2);
        e.mod_revision = 15;
        e.version = 2;
        m.apply_events(vec![KvEvent::Put(e)], now());
        assert_eq!(m.row(2).unwrap().key_text(), "/services/web/web-2");
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn lease_ttl_counts_down() {
        let mut m = sample();
        m.apply_lease_ttls(&[(7, 30)], now());
        assert_eq!(
            m.lease_remaining(7, now() + chrono::Duration::seconds(3)),
            Some(27)
        );
        assert_eq!(m.lease_remaining(0, now()), None);
    }

    #[test]
    fn ttls_of_leases_no_member_holds_are_not_kept() {
        let mut m = sample();
        let mut e = entry("/services/web/web-9", r#"{"addr":"10.9.9.9:80"}"#, 20);
        e.lease = 42;
        m.apply_events(vec![KvEvent::Put(e)], now());
        // A churning fleet: lease after lease polled once, then revoked.
        for lease in 100..200 {
            m.apply_lease_ttls(&[(lease, 10)], now());
        }
        m.apply_lease_ttls(&[(42, 30)], now());
        assert!(
            m.lease_expiry.len() <= m.len() + 1,
            "{} leases kept for {} members",
            m.lease_expiry.len(),
            m.len()
        );
        assert_eq!(m.lease_remaining(42, now()), Some(30));
    }

    /// The view's rows (each cluster's run, merged) against every shown member sorted by the
    /// full comparison: the sort prefixes beside the ids never change the order.
    fn check_order(m: &Members) {
        let mut want: Vec<&Member> = m.all().filter(|x| m.passes(x)).collect();
        want.sort_by(|a, b| m.compare(a, b));
        let want: Vec<(ClusterId, &[u8])> = want.iter().map(|x| (x.cluster, x.key())).collect();
        let got: Vec<(ClusterId, &[u8])> = m
            .visible_rows(0, usize::MAX)
            .map(|x| (x.cluster, x.key()))
            .collect();
        assert_eq!(got, want);
        for (i, x) in m.visible_rows(0, usize::MAX).enumerate() {
            assert_eq!(m.position_of(x), Ok(i));
        }
        // The counts kept as rows come and go are what counting anew gives.
        let mut roles = BTreeMap::new();
        for x in m.all() {
            count_role(&mut roles, x.role());
        }
        assert_eq!(m.role_counts, roles);
        for c in 0..m.cluster_counts.len() {
            let c = ClusterId(c as u16);
            let all = m.all().filter(|x| x.cluster == c).count();
            let shown = m
                .visible_rows(0, usize::MAX)
                .filter(|x| x.cluster == c)
                .count();
            assert_eq!((m.count_in(c), m.visible_in(c)), (all, shown));
        }
        if m.uses_prefix() {
            let mut groups = Groups::default();
            for x in m.visible_rows(0, usize::MAX) {
                groups.add(x);
            }
            assert_eq!(m.groups.counts(), groups.counts());
        }
    }

    /// What a user sees of the members: the rows, the counts, the selection, the marks.
    fn seen(m: &Members) -> impl PartialEq + std::fmt::Debug {
        type SeenRow = (ClusterId, Vec<u8>, i64, Option<DateTime<Utc>>);
        let rows: Vec<SeenRow> = m
            .visible_rows(0, usize::MAX)
            .map(|x| (x.cluster, x.key().to_vec(), x.mod_revision, x.started_at()))
            .collect();
        let counts: Vec<(usize, usize)> = (0..2)
            .map(|c| (m.count_in(ClusterId(c)), m.visible_in(ClusterId(c))))
            .collect();
        (
            rows,
            counts,
            m.role_counts.clone(),
            m.selected_index(),
            m.selected().map(|x| (x.cluster, x.key().to_vec())),
            m.marked_count(),
            m.revision,
        )
    }

    proptest::proptest! {
        /// The same changes, the listings given plain to one and prepared (in ranges, as the
        /// etcd source sends them) to the other: the same members, rows, counts, selection and
        /// marks after each, whatever the sort, filter, grouping, clusters and selection.
        #[test]
        fn a_prepared_listing_gives_what_a_plain_one_gives(
            ops in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => (0u16..2, 0usize..80, 0usize..3).prop_map(|(c, k, v)| Op::Put(c, k, v)),
                    2 => (0u16..2, 0usize..80).prop_map(|(c, k)| Op::Delete(c, k)),
                    3 => (0u16..2, proptest::collection::vec(0usize..80, 0..30))
                        .prop_map(|(c, ks)| Op::Listing(c, ks)),
                    1 => proptest::sample::select(vec![None, Some("web"), Some("!-2"), Some("cluster:b")])
                        .prop_map(Op::Filter),
                    1 => Just(Op::Reverse),
                    1 => Just(Op::CycleSort),
                    2 => (0u16..2, 0usize..80).prop_map(|(c, k)| Op::Select(c, k)),
                    1 => Just(Op::Mark),
                    1 => proptest::sample::select(vec![None, Some(0u16), Some(1)]).prop_map(Op::Narrow),
                ],
                1..50,
            ),
            cut in 0usize..30,
        ) {
            let mut plain = Members::new("/services/");
            let mut prepared = Members::new("/services/");
            for m in [&mut plain, &mut prepared] {
                m.cluster_names = vec!["a".into(), "b".into()];
            }
            let mut rev = 1;
            for op in ops {
                rev += 1;
                for (i, m) in [&mut plain, &mut prepared].into_iter().enumerate() {
                    match op.clone() {
                        Op::Put(c, k, v) => m.apply_events_in(
                            ClusterId(c),
                            vec![KvEvent::Put(entry(&prop_key(k), &format!("10.0.0.{v}:80"), rev))],
                            now(),
                        ),
                        Op::Delete(c, k) => m.apply_events_in(
                            ClusterId(c),
                            vec![KvEvent::Delete { key: prop_key(k).into(), mod_revision: rev }],
                            now(),
                        ),
                        Op::Listing(c, ks) => {
                            // Keys in etcd's order, as a listing has them.
                            let mut ks: Vec<String> = ks.into_iter().map(prop_key).collect();
                            ks.sort();
                            ks.dedup();
                            let mut members: Vec<Member> = ks
                                .iter()
                                .map(|k| Member::from_entry("/services/", entry(k, "{}", rev), None))
                                .collect();
                            if i == 0 {
                                m.apply_listing_in(ClusterId(c), rev, members, now());
                            } else {
                                // Two key ranges, each sorted by its reading task.
                                let mut rest = members.split_off(cut.min(members.len()));
                                members.sort_by(crate::model::default_order);
                                rest.sort_by(crate::model::default_order);
                                let listing = Listing::prepare(ClusterId(c), vec![members, rest]);
                                m.apply_listing_in(ClusterId(c), rev, listing, now());
                            }
                        }
                        Op::Filter(f) => m.set_filter(f.and_then(|f| Filter::parse(f).unwrap())),
                        Op::Reverse => m.reverse_sort(),
                        Op::CycleSort => m.cycle_sort(),
                        Op::Select(c, k) => {
                            m.select_in(ClusterId(c), prop_key(k));
                        }
                        Op::Mark => m.toggle_mark(),
                        Op::Narrow(only) => m.narrow(only.map(ClusterId)),
                    }
                    check_order(m);
                }
                proptest::prop_assert_eq!(seen(&plain), seen(&prepared));
            }
        }
    }

    #[test]
    fn a_prepared_listing_beside_another_cluster_relabels_every_group_when_it_must() {
        // Thousands of groups in each cluster, interleaved: the labels run out while the second
        // cluster's groups are counted in, and every row's prefix is looked up again.
        let listing = |c: u16, numbers: Vec<usize>| {
            let mut members: Vec<Member> = numbers
                .into_iter()
                .map(|i| {
                    // A stem of its own per number (letters: digits would end the stem).
                    let stem: String = (0..4)
                        .rev()
                        .map(|d| char::from(b'a' + (i / 26usize.pow(d) % 26) as u8))
                        .collect();
                    let k = format!("/services/web/{stem}-1");
                    Member::from_entry("/services/", entry(&k, "{}", 5), None)
                })
                .collect();
            members.sort_by(crate::model::default_order);
            Listing::prepare(ClusterId(c), vec![members])
        };
        let first = || (0..3000).map(|i| 100 * i).collect::<Vec<_>>();
        // 40 groups between two of the first cluster's: more than halving their gap allows.
        let second = || (1..=40).collect::<Vec<_>>();
        let mut m = Members::new("/services/");
        m.apply_listing_in(ClusterId(0), 5, listing(0, first()), now());
        check_order(&m);
        m.apply_listing_in(ClusterId(1), 5, listing(1, second()), now());
        check_order(&m);
        assert_eq!(m.visible_len(), 3040);
        m.reverse_sort();
        m.apply_listing_in(ClusterId(0), 6, listing(0, first()), now());
        check_order(&m);
        m.apply_listing_in(ClusterId(1), 6, listing(1, second()), now());
        check_order(&m);
    }

    #[test]
    fn a_relist_hands_its_old_store_away_and_keeps_what_it_must() {
        let listing = |rev: i64, n: usize| {
            let mut members: Vec<Member> = (0..n)
                .map(|i| {
                    let k = format!("/services/web/web-{i}");
                    Member::from_entry("/services/", entry(&k, "{}", rev), None)
                })
                .collect();
            members.sort_by(crate::model::default_order);
            Listing::prepare(ClusterId(0), vec![members])
        };
        let mut m = Members::new("/services/");
        m.apply_listing(5, listing(5, DISCARD_AWAY), now());
        assert!(m.take_discarded().is_empty());
        // Seen live: its creation time outlives the relist.
        let mut e = entry("/services/web/web-7", "{}", 6);
        e.version = 1;
        e.create_revision = 6;
        m.apply_events(vec![KvEvent::Put(e.clone())], now());
        let seen = m.get("/services/web/web-7").and_then(Member::started_at);
        assert!(seen.is_some());
        assert!(m.select_key("/services/web/web-9"));
        m.toggle_mark();
        let mut again = listing(7, DISCARD_AWAY).into_prepared(ClusterId(0));
        let id = again
            .store
            .id(ClusterId(0), b"/services/web/web-7")
            .expect("listed");
        *again.store.at_mut(id) = Member::from_entry("/services/", e, None);
        m.apply_listing(7, Listing::from(again.store.into_members()), now());
        assert_eq!(
            m.get("/services/web/web-7").and_then(Member::started_at),
            seen
        );
        assert_eq!(
            m.selected().map(|x| x.key().to_vec()),
            Some(b"/services/web/web-9".to_vec())
        );
        assert_eq!(m.marked_count(), 1);
        let old = m.take_discarded();
        assert_eq!(
            old.iter().map(Store::len).collect::<Vec<_>>(),
            vec![DISCARD_AWAY]
        );
        assert!(m.take_discarded().is_empty());
        check_order(&m);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(u16, usize, usize),
        Delete(u16, usize),
        Listing(u16, Vec<usize>),
        Filter(Option<&'static str>),
        Reverse,
        CycleSort,
        Select(u16, usize),
        Mark,
        Narrow(Option<u16>),
    }

    /// Keys with shared stems, digit runs of several lengths and leading zeros, no digits,
    /// odd bytes and several roles.
    fn prop_key(i: usize) -> String {
        const ROLES: [&str; 5] = ["web", "api", "we", "web2", "-x"];
        const INST: [&str; 16] = [
            "web-2",
            "web-10",
            "web-010",
            "web-",
            "web",
            "webx",
            "eu/web-1",
            "a1b2",
            "9",
            "09",
            "w\u{e9}b-3",
            "web-4294967296",
            "web-3",
            "web-7",
            "web-12",
            "web-20x1",
        ];
        format!("/services/{}/{}", ROLES[i % 5], INST[(i / 5) % 16])
    }

    proptest::proptest! {
        #[test]
        fn the_view_keeps_the_full_order_through_any_changes(
            ops in proptest::collection::vec(
                proptest::prop_oneof![
                    6 => (0u16..2, 0usize..80, 0usize..3).prop_map(|(c, k, v)| Op::Put(c, k, v)),
                    3 => (0u16..2, 0usize..80).prop_map(|(c, k)| Op::Delete(c, k)),
                    1 => (0u16..2, proptest::collection::vec(0usize..80, 0..30))
                        .prop_map(|(c, ks)| Op::Listing(c, ks)),
                    1 => proptest::sample::select(vec![None, Some("web"), Some("!-2"), Some("1")])
                        .prop_map(Op::Filter),
                    1 => Just(Op::Reverse),
                    1 => Just(Op::CycleSort),
                ],
                1..60,
            )
        ) {
            let mut m = Members::new("/services/");
            m.cluster_names = vec!["a".into(), "b".into()];
            let mut rev = 1;
            for op in ops {
                rev += 1;
                match op {
                    Op::Put(c, k, v) => m.apply_events_in(
                        ClusterId(c),
                        vec![KvEvent::Put(entry(&prop_key(k), &format!("10.0.0.{v}:80"), rev))],
                        now(),
                    ),
                    Op::Delete(c, k) => m.apply_events_in(
                        ClusterId(c),
                        vec![KvEvent::Delete { key: prop_key(k).into(), mod_revision: rev }],
                        now(),
                    ),
                    Op::Listing(c, ks) => {
                        let mut ks = ks;
                        ks.sort();
                        ks.dedup();
                        let mut members: Vec<Member> = ks
                            .iter()
                            .map(|&k| Member::from_entry("/services/", entry(&prop_key(k), "{}", rev), None))
                            .collect();
                        // As a source prepares it (off the UI thread) every other time.
                        if rev % 2 == 0 {
                            members.sort_by(crate::model::default_order);
                            let half = members.len() / 2;
                            let rest = members.split_off(half);
                            let listing = Listing::prepare(ClusterId(c), vec![rest, members]);
                            m.apply_listing_in(ClusterId(c), rev, listing, now());
                        } else {
                            m.apply_listing_in(ClusterId(c), rev, members, now());
                        }
                    }
                    Op::Filter(f) => m.set_filter(f.and_then(|f| Filter::parse(f).unwrap())),
                    Op::Reverse => m.reverse_sort(),
                    Op::CycleSort => m.cycle_sort(),
                    Op::Select(..) | Op::Mark | Op::Narrow(_) => {}
                }
                check_order(&m);
            }
        }
    }

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("web-2", "web-10"), Ordering::Less);
        assert_eq!(natural_cmp("a", "a1"), Ordering::Less);
        assert_eq!(natural_cmp("x007", "x7"), Ordering::Equal);
    }
}

#[cfg(test)]
mod filter_engines {
    use super::Filter;

    /// The prefilter-less engine for short text and the regex for long text answer alike, on
    /// either side of the length where `is_match` switches, case-folded or not.
    #[test]
    fn short_and_long_text_get_the_same_answers() {
        for pattern in [
            "error|timed? ?out",
            "Error",
            "straße",
            "^web-[0-9]+$",
            "ß|k",
            "!fail",
        ] {
            let f = Filter::parse(pattern).unwrap().unwrap();
            for text in [
                "",
                "ERROR",
                "Error: x",
                "connection TIMED OUT",
                "STRASSE",
                "Straße",
                "web-12",
                "web-12x",
                "\u{212a}elvin",
                "fail",
            ] {
                for pad in [0, 40, 300] {
                    let t = format!("{}{text}", " ".repeat(pad));
                    assert_eq!(f.is_match(&t), f.regex.is_match(&t), "{pattern} on {t:?}");
                }
            }
        }
    }

    use proptest::prelude::*;

    proptest! {
        /// Whatever the pattern and text, the filter answers as the plain regex does: the
        /// lowered regex over lowercased ASCII text (case folding of `k` and `s` to non-ASCII
        /// letters, `(?-i)`, classes, word boundaries) included.
        #[test]
        fn every_engine_answers_as_the_regex(
            tokens in proptest::collection::vec(prop::sample::select(vec![
                "a", "e", "k", "s", "E", "K", "ſ", "\u{212a}", "é", "ß", " ", "-", "1", "[a-c]",
                "[^e]", "[A-Z]", "\\w", "\\W", "\\b", "\\d", ".", "|", "?", "*", "+", "(?-i:e)",
                "(?i:E)", "(", ")", "^", "$", "\\p{Lu}", "\\x41",
            ]), 1..8),
            chars in proptest::collection::vec(prop::sample::select(vec![
                'a', 'A', 'e', 'E', 'k', 'K', 's', 'S', 'ſ', '\u{212a}', 'é', 'É', 'ß', ' ', '1',
                '-', 'z', 'Z', '\n',
            ]), 0..40),
            pad in 0usize..3,
        ) {
            let pattern: String = tokens.concat();
            let Ok(Some(f)) = Filter::parse(&pattern) else { return Ok(()) };
            let text: String = chars.iter().collect();
            let text = format!("{}{text}", "x ".repeat(pad * 12));
            prop_assert_eq!(f.is_match(&text), f.regex.is_match(&text), "{} on {:?}", pattern, text);
        }
    }
}
