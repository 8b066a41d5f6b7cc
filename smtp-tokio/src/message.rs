//! Reading the header block of a streamed message for `send_message_reader`.
//! The header rules themselves are the engine's: [`smtp_proto::message`].

use smtp_proto::message::HeaderReader;
use tokio::io::{AsyncRead, AsyncReadExt};

use smtp_proto::session::Error;

/// Reads from `reader` through the empty line that ends the header block,
/// at most [`smtp_proto::message::MAX_HEADER_BLOCK`] bytes. The bytes read
/// may run past the block into the body; the caller sends them first.
pub(crate) async fn read_header_block<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Vec<u8>, Error> {
    let mut head = HeaderReader::default();
    while let Some(space) = head.space()? {
        let n = reader.read(space).await?;
        head.filled(n);
    }
    Ok(head.into_bytes())
}

/// The body source of a streamed message: the kept pieces of its header
/// block (`head`, read already), then the rest of `reader`.
pub(crate) fn head_then<'a, R: AsyncRead + Unpin + Send + 'a>(
    parts: Vec<&'a [u8]>,
    reader: R,
) -> impl AsyncRead + Unpin + Send + 'a {
    let head = parts.into_iter().fold(
        Box::new(tokio::io::empty()) as Box<dyn AsyncRead + Unpin + Send + 'a>,
        |acc, p| Box::new(acc.chain(p)),
    );
    head.chain(reader)
}
