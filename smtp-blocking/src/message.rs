//! Reading the header block of a streamed message for `send_message_reader`.
//! The header rules themselves are the engine's: [`smtp_proto::message`].

use std::io::Read;

use smtp_proto::message::HeaderReader;

use smtp_proto::session::Error;

/// Reads the header block (through the empty line that ends it) from
/// `reader`, at most [`smtp_proto::message::MAX_HEADER_BLOCK`] bytes.
/// Returns the bytes read, which may run past the block into the body.
pub(crate) fn read_header_block(reader: &mut impl Read) -> Result<Vec<u8>, Error> {
    let mut head = HeaderReader::default();
    while let Some(space) = head.space()? {
        match reader.read(space) {
            Ok(n) => head.filled(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(head.into_bytes())
}

/// The body source of a streamed message: the kept pieces of its header
/// block (`head`, read already), then the rest of `reader`.
pub(crate) fn head_then<'a, R: Read + 'a>(parts: Vec<&'a [u8]>, reader: R) -> impl Read + 'a {
    let head = parts.into_iter().fold(
        Box::new(std::io::empty()) as Box<dyn Read + 'a>,
        |acc, p| Box::new(acc.chain(p)),
    );
    head.chain(reader)
}
