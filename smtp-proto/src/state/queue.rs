//! [`Queue`]: the commands not yet on the wire, in order. Each entry is
//! a kind and a length; the encoded bytes of all entries sit back to back
//! in one buffer, and lines are built in one scratch string. Both buffers
//! keep their capacity, so queueing and sending a message's commands
//! allocates nothing once they have grown to a message's size.

use std::collections::VecDeque;

use super::op::OpKind;
use crate::command::{Command, CommandError, check_line};
use crate::error::UsageError;

/// The queue of commands not yet on the wire (rule 7 decides when each
/// leaves it).
pub(crate) struct Queue {
    entries: VecDeque<Entry>,
    /// The entries' bytes in queue order, starting at `start`.
    bytes: Vec<u8>,
    /// Bytes before this offset belong to entries already sent.
    start: usize,
    /// Where a command line is built and checked before it is queued.
    line: String,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    kind: OpKind,
    /// How many bytes of `Queue::bytes` are this entry's (0 for a body
    /// placeholder).
    len: usize,
}

/// A point to roll the queue back to (see [`Queue::rollback`]). The
/// bytes are counted from `start`: an append may compact the buffer,
/// which moves them but does not change how many are queued.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    entries: usize,
    queued_bytes: usize,
}

/// Shows kinds and lengths only: the bytes may be an AUTH line.
impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.iter()).finish()
    }
}

impl Queue {
    pub(crate) fn new() -> Queue {
        Queue {
            entries: VecDeque::new(),
            bytes: Vec::new(),
            start: 0,
            line: String::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The kind of the command at the head of the queue.
    pub(crate) fn front(&self) -> Option<OpKind> {
        self.entries.front().map(|e| e.kind)
    }

    /// The kinds of every queued command, in order.
    pub(crate) fn kinds(&self) -> impl Iterator<Item = OpKind> + '_ {
        self.entries.iter().map(|e| e.kind)
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes.clear();
        self.start = 0;
    }

    /// Appends `command`, encoded. Nothing is queued on error.
    pub(crate) fn push(&mut self, kind: OpKind, command: &Command) -> Result<(), UsageError> {
        self.push_line(kind, |line| command.build_line(line))
    }

    /// Appends the command line `build` writes (without its CRLF), once
    /// it passes [`check_line`]. Nothing is queued on error.
    pub(crate) fn push_line(
        &mut self,
        kind: OpKind,
        build: impl FnOnce(&mut String) -> Result<(), CommandError>,
    ) -> Result<(), UsageError> {
        self.compact();
        self.line.clear();
        build(&mut self.line)?;
        check_line(&self.line)?;
        self.bytes.extend_from_slice(self.line.as_bytes());
        self.bytes.extend_from_slice(b"\r\n");
        self.entries.push_back(Entry {
            kind,
            len: self.line.len().saturating_add(2),
        });
        Ok(())
    }

    /// Appends `command` ahead of every queued one.
    pub(crate) fn push_front(&mut self, kind: OpKind, command: &Command) -> Result<(), UsageError> {
        self.push(kind, command)?;
        self.move_last_to(0);
        Ok(())
    }

    /// Appends bytes that are not a command line: the end of data `.`.
    pub(crate) fn push_raw(&mut self, kind: OpKind, bytes: &[u8]) {
        self.compact();
        self.bytes.extend_from_slice(bytes);
        self.entries.push_back(Entry {
            kind,
            len: bytes.len(),
        });
    }

    /// Appends `BDAT n [LAST]` with the chunk's `data` behind it, verbatim.
    pub(crate) fn push_bdat(&mut self, kind: OpKind, data: &[u8]) -> Result<(), UsageError> {
        let last = matches!(kind, OpKind::Bdat { last: true, .. });
        let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
        self.push(kind, &Command::Bdat { size, last })?;
        self.bytes.extend_from_slice(data);
        if let Some(entry) = self.entries.back_mut() {
            entry.len = entry.len.saturating_add(data.len());
        }
        Ok(())
    }

    /// Appends an entry with no bytes: the body placeholder, which holds
    /// the queue until the caller finishes the body.
    pub(crate) fn push_placeholder(&mut self, kind: OpKind) {
        self.entries.push_back(Entry { kind, len: 0 });
    }

    /// Where the first entry that `find` matches is.
    pub(crate) fn position(&self, mut find: impl FnMut(OpKind) -> bool) -> Option<usize> {
        self.entries.iter().position(|e| find(e.kind))
    }

    /// Moves the entry just appended to index `at`, its bytes with it.
    pub(crate) fn move_last_to(&mut self, at: usize) {
        let Some(last) = self.entries.pop_back() else {
            return;
        };
        let offset = self
            .entries
            .iter()
            .take(at)
            .fold(self.start, |sum, e| sum.saturating_add(e.len));
        if let Some(tail) = self.bytes.get_mut(offset..)
            && last.len <= tail.len()
        {
            tail.rotate_right(last.len);
        }
        self.entries.insert(at.min(self.entries.len()), last);
    }

    /// Removes the entry at `at`, which must hold no bytes (a placeholder).
    pub(crate) fn remove_empty(&mut self, at: usize) {
        if self.entries.get(at).is_some_and(|e| e.len == 0) {
            self.entries.remove(at);
        }
    }

    /// Takes the head of the queue off, appending its bytes to `out`.
    pub(crate) fn pop_front_into(&mut self, out: &mut Vec<u8>) -> Option<OpKind> {
        let entry = self.entries.pop_front()?;
        let end = self.start.saturating_add(entry.len);
        out.extend_from_slice(self.bytes.get(self.start..end).unwrap_or_default());
        self.advance(end);
        Some(entry.kind)
    }

    /// Drops the head of the queue unsent.
    pub(crate) fn pop_front(&mut self) -> Option<OpKind> {
        let entry = self.entries.pop_front()?;
        self.advance(self.start.saturating_add(entry.len));
        Some(entry.kind)
    }

    /// Drops the entry just appended.
    pub(crate) fn pop_back(&mut self) {
        if let Some(entry) = self.entries.pop_back() {
            let len = self.bytes.len().saturating_sub(entry.len).max(self.start);
            self.bytes.truncate(len);
        }
    }

    /// Keeps only the entries `keep` accepts, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(OpKind) -> bool) {
        let mut read = self.start;
        let mut write = self.start;
        let bytes = &mut self.bytes;
        self.entries.retain(|e| {
            let end = read.saturating_add(e.len);
            let kept = keep(e.kind);
            if kept {
                if end <= bytes.len() && write < read {
                    bytes.copy_within(read..end, write);
                }
                write = write.saturating_add(e.len);
            }
            read = end;
            kept
        });
        self.bytes.truncate(write);
    }

    /// Where the queue ends now.
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            entries: self.entries.len(),
            queued_bytes: self.bytes.len().saturating_sub(self.start),
        }
    }

    /// Drops what was appended since `mark`; only entries were appended
    /// since (nothing taken off or moved).
    pub(crate) fn rollback(&mut self, mark: Mark) {
        self.entries.truncate(mark.entries);
        self.bytes
            .truncate(self.start.saturating_add(mark.queued_bytes));
    }

    fn advance(&mut self, to: usize) {
        self.start = to;
        if self.entries.is_empty() || self.start >= self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
    }

    /// Drops sent bytes once they are at least half of the buffer, so the
    /// copying costs O(1) per byte over time. Only called before an append.
    fn compact(&mut self) {
        if self.start > 0 && self.start >= self.bytes.len() / 2 {
            self.bytes.drain(..self.start.min(self.bytes.len()));
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::event::{CommandId, TxnId};

    fn drain(q: &mut Queue) -> (Vec<OpKind>, Vec<u8>) {
        let mut out = Vec::new();
        let mut kinds = Vec::new();
        while let Some(kind) = q.pop_front_into(&mut out) {
            kinds.push(kind);
        }
        (kinds, out)
    }

    const TXN: TxnId = TxnId(7);

    #[test]
    fn commands_keep_their_order_and_bytes_through_moves() {
        let mut q = Queue::new();
        q.push(OpKind::Mail { txn: TXN }, &Command::Noop).unwrap();
        q.push_placeholder(OpKind::Body { txn: TXN });
        q.push(OpKind::Quit { id: CommandId(1) }, &Command::Quit)
            .unwrap();
        // A chunk goes just ahead of the placeholder, then the last one
        // takes the placeholder's place.
        let at = q.position(|k| matches!(k, OpKind::Body { .. })).unwrap();
        q.push_bdat(
            OpKind::Bdat {
                txn: TXN,
                last: false,
            },
            b"abc",
        )
        .unwrap();
        q.move_last_to(at);
        let at = q.position(|k| matches!(k, OpKind::Body { .. })).unwrap();
        q.push_bdat(
            OpKind::Bdat {
                txn: TXN,
                last: true,
            },
            b"de",
        )
        .unwrap();
        q.move_last_to(at);
        q.remove_empty(at + 1);
        q.push_front(
            OpKind::Simple {
                id: CommandId(2),
                internal: true,
            },
            &Command::Rset,
        )
        .unwrap();
        let (kinds, out) = drain(&mut q);
        assert_eq!(kinds.len(), 5);
        assert_eq!(
            out,
            b"RSET\r\nNOOP\r\nBDAT 3\r\nabcBDAT 2 LAST\r\ndeQUIT\r\n".to_vec()
        );
        assert!(q.is_empty());
    }

    #[test]
    fn retain_and_rollback_drop_exactly_their_bytes() {
        let mut q = Queue::new();
        q.push(
            OpKind::Simple {
                id: CommandId(1),
                internal: false,
            },
            &Command::Noop,
        )
        .unwrap();
        q.push(OpKind::Mail { txn: TXN }, &Command::Rset).unwrap();
        q.push(OpKind::Quit { id: CommandId(2) }, &Command::Quit)
            .unwrap();
        let mut out = Vec::new();
        q.pop_front_into(&mut out);
        assert_eq!(out, b"NOOP\r\n".to_vec());
        q.retain(|k| k.txn() != Some(TXN));
        let mark = q.mark();
        q.push(OpKind::Mail { txn: TXN }, &Command::Data).unwrap();
        assert!(
            q.push(OpKind::Mail { txn: TXN }, &Command::Raw("a\r\nb".into()))
                .is_err()
        );
        q.rollback(mark);
        // The append after the mark compacted the buffer (the sent NOOP
        // was half of it): the rollback must still drop exactly DATA.
        q.push(OpKind::Rset { id: CommandId(3) }, &Command::Rset)
            .unwrap();
        let (kinds, out) = drain(&mut q);
        assert_eq!(
            kinds,
            vec![
                OpKind::Quit { id: CommandId(2) },
                OpKind::Rset { id: CommandId(3) }
            ]
        );
        assert_eq!(out, b"QUIT\r\nRSET\r\n".to_vec());
    }
}
