//! The members at a past revision (the time cursor, `snapshot --at`). Read the way the live
//! listing reads (`etcd::list_prefix_streamed`): the prefix cut into key ranges, a few in flight,
//! each range in pages under the same byte budget and decoding limit — never one unpaged
//! `get --prefix --rev R`, which on a large fleet is one huge answer etcd 3.4 walks its index for
//! and tonic refuses past its decoding limit. Bounded too: a cap on members and a time budget;
//! what stops early is shown as partial (the first members in key order), never as the whole.

use std::time::Duration;

use chrono::Utc;
use etcd_client::{Client, GetOptions, KvClient, WatchOptions};
use futures::StreamExt;
use tokio::time::Instant;

use super::etcd::{
    cut_ranges, owned_entry, prefix_end, CUT_BEFORE, FIRST_RANGE_PAGE, MAX_PAGE_SIZE,
    MIN_PAGE_SIZE, PAGE_BYTES, RANGES_IN_FLIGHT, REQUEST_TIMEOUT,
};
use crate::model::revclock::RevisionClock;
use crate::model::{default_order, KvEntry, Member, Partial, PastMembers, PastUnknown};

/// Members held for one past moment. The live listing keeps every member; the past is held
/// beside it (the live set stays behind the pane), so it is capped at the largest fleet the
/// performance budget is set for (issue 18: 1,000,000 registrations).
pub const MAX_MEMBERS_AT: usize = 1_000_000;
/// How long the console's read may take before it shows what arrived (100k members: well under
/// a second here).
const CONSOLE_BUDGET: Duration = Duration::from_secs(30);
/// How long etcd may take to count the keys of a partial read (only said, never waited on long).
const COUNT_TIMEOUT: Duration = Duration::from_secs(2);

/// How far a read at a revision may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Keys in a range's first page (later pages are sized by the byte budget, as the listing's).
    pub first_page: i64,
    /// Members read at most; more make the read partial.
    pub max_members: usize,
    /// Time for the whole read; what arrived by then is shown as partial.
    pub budget: Duration,
}

impl Bounds {
    /// The console's: the live listing's pages, [`MAX_MEMBERS_AT`], 30 s.
    pub fn console() -> Bounds {
        Bounds {
            first_page: FIRST_RANGE_PAGE,
            max_members: MAX_MEMBERS_AT,
            budget: CONSOLE_BUDGET,
        }
    }

    /// The console's, within `budget` (the snapshot command's deadline).
    pub fn within(budget: Duration) -> Bounds {
        Bounds {
            budget,
            ..Bounds::console()
        }
    }
}

/// The members under `prefix` at the revision `clock` maps `at` to. Below etcd's compaction the
/// nearest it has: the compacted revision, learnt from a watch started at revision 1 (a ranged
/// get only says "compacted", not where).
pub async fn read_members_at(
    client: Client,
    prefix: &str,
    clock: &RevisionClock,
    at: chrono::DateTime<Utc>,
    bounds: Bounds,
) -> Result<PastMembers, PastUnknown> {
    let pair = clock.revision_at(at).map_err(PastUnknown::NoRevision)?;
    match members_at_revision(&client, prefix, pair.revision, bounds).await {
        Ok((members, partial)) => Ok(PastMembers {
            revision: pair.revision,
            seen: pair.time(),
            members,
            compacted: None,
            partial,
        }),
        Err(e) if e.contains("compacted") => {
            let compacted = compacted_revision(&client, prefix).await.map_err(|e| {
                PastUnknown::Failed(format!("revision {} is compacted; {e}", pair.revision))
            })?;
            let (members, partial) = members_at_revision(&client, prefix, compacted, bounds)
                .await
                .map_err(|e| {
                    PastUnknown::Failed(format!("reading the compacted revision {compacted}: {e}"))
                })?;
            Ok(PastMembers {
                revision: compacted,
                seen: pair.time(),
                members,
                compacted: Some((compacted, clock.time_of(compacted))),
                partial,
            })
        }
        Err(e) => Err(PastUnknown::Failed(format!(
            "reading revision {}: {e}",
            pair.revision
        ))),
    }
}

/// The members under `prefix` at `revision`, sorted as the pane sorts them, and whether the
/// read stopped at its bounds.
pub async fn members_at_revision(
    client: &Client,
    prefix: &str,
    revision: i64,
    bounds: Bounds,
) -> Result<(Vec<Member>, Option<Partial>), String> {
    let deadline = Instant::now() + bounds.budget;
    let kv = client.kv_client().max_decoding_message_size(512 << 20);
    let ranges = cut_ranges(
        prefix.as_bytes(),
        prefix_end(prefix.as_bytes()),
        CUT_BEFORE,
        &[],
    );
    // One over the cap, so that reaching the cap exactly is not taken for more.
    let limit = bounds.max_members.saturating_add(1);
    // In key order, a few at a time: a cut-off read is the first members, not a scattering.
    let mut reads = futures::stream::iter(ranges)
        .map(|(start, end)| {
            read_range(
                kv.clone(),
                start,
                end,
                revision,
                bounds.first_page,
                limit,
                deadline,
            )
        })
        .buffered(RANGES_IN_FLIGHT);
    let mut entries: Vec<KvEntry> = Vec::new();
    let mut why = None;
    while let Some(read) = reads.next().await {
        let (part, out_of_time) = read.map_err(|e| e.to_string())?;
        entries.extend(part);
        if entries.len() > bounds.max_members {
            entries.truncate(bounds.max_members);
            why = Some(format!("cap {} members", bounds.max_members));
            break;
        }
        if out_of_time {
            if entries.is_empty() {
                return Err(format!(
                    "etcd did not answer within {} s",
                    bounds.budget.as_secs()
                ));
            }
            why = Some(format!("{} s budget", bounds.budget.as_secs()));
            break;
        }
    }
    drop(reads);
    let partial = match why {
        None => None,
        Some(why) => Some(Partial {
            read: entries.len(),
            total: count_at(kv, prefix, revision).await,
            why,
        }),
    };
    let mut members: Vec<Member> = entries
        .into_iter()
        .map(|e| Member::from_entry(prefix, e, None))
        .collect();
    members.sort_by(default_order);
    Ok((members, partial))
}

/// `[start, end)` at `revision` in pages, the first of `first_page` keys and the next sized by
/// the listing's byte budget, until the range ends, `limit` keys are read or `deadline` passes
/// (then `true`: out of time).
async fn read_range(
    mut kv: KvClient,
    mut start: Vec<u8>,
    end: Vec<u8>,
    revision: i64,
    first_page: i64,
    limit: usize,
    deadline: Instant,
) -> Result<(Vec<KvEntry>, bool), etcd_client::Error> {
    let mut entries = Vec::new();
    let mut page = first_page.max(1);
    let mut bytes = 0usize;
    loop {
        let left = i64::try_from(limit - entries.len()).unwrap_or(i64::MAX);
        let opts = GetOptions::new()
            .with_range(end.clone())
            .with_limit(page.min(left))
            .with_revision(revision);
        let resp = match tokio::time::timeout_at(deadline, kv.get(start.clone(), Some(opts))).await
        {
            Ok(resp) => resp?,
            Err(_) => return Ok((entries, true)),
        };
        let more = resp.more();
        let mut resp = resp;
        let kvs = resp.take_kvs();
        let got = kvs.len();
        if let Some(last) = kvs.last() {
            start = last.key().to_vec();
            start.push(0);
        }
        for kv in kvs {
            bytes += kv.key().len() + kv.value().len();
            entries.push(owned_entry(kv));
        }
        if !more || got == 0 || entries.len() >= limit {
            return Ok((entries, false));
        }
        let per_key = (bytes / entries.len().max(1)).max(1);
        page = ((PAGE_BYTES / per_key) as i64).clamp(MIN_PAGE_SIZE, MAX_PAGE_SIZE);
    }
}

/// Keys under `prefix` at `revision` (to say "3 of 7"); `None` when etcd does not say quickly.
async fn count_at(mut kv: KvClient, prefix: &str, revision: i64) -> Option<i64> {
    let opts = GetOptions::new()
        .with_prefix()
        .with_count_only()
        .with_revision(revision);
    let ask = kv.get(prefix.as_bytes().to_vec(), Some(opts));
    match tokio::time::timeout(COUNT_TIMEOUT, ask).await {
        Ok(Ok(resp)) => Some(resp.count()),
        _ => None,
    }
}

/// etcd's compacted revision: a watch from revision 1 is cancelled with it.
async fn compacted_revision(client: &Client, prefix: &str) -> Result<i64, String> {
    let mut client = client.clone();
    let opts = WatchOptions::new().with_prefix().with_start_revision(1);
    let ask = async {
        let mut stream = client
            .watch(prefix.as_bytes(), Some(opts))
            .await
            .map_err(|e| e.to_string())?;
        while let Some(resp) = stream.message().await.map_err(|e| e.to_string())? {
            if resp.compact_revision() > 0 {
                return Ok(resp.compact_revision());
            }
            if !resp.events().is_empty() {
                return Err("etcd replayed from revision 1: nothing is compacted".to_string());
            }
        }
        Err("the watch ended without saying".to_string())
    };
    tokio::time::timeout(REQUEST_TIMEOUT, ask)
        .await
        .map_err(|_| "etcd did not say where it compacted within 5 s".to_string())?
}
