//! etcd's keys and values as the console holds them: bytes, with their revisions and lease.

/// One key/value as read from etcd, prefix included. The key is the raw bytes etcd holds: it is
/// the member's identity end to end (never the text drawn for it, which may be escaped).
#[derive(Debug, Clone, PartialEq)]
pub struct KvEntry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KvEvent {
    Put(KvEntry),
    /// Key deleted at `mod_revision` (lease expiry and revoke also arrive as deletes).
    Delete {
        key: Vec<u8>,
        mod_revision: i64,
    },
}
