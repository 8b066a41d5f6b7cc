//! Splitting a PEM bundle into its certificates, for the adapters' root
//! certificate loading: TLS libraries parse one certificate at a time, and
//! the splitting needs no TLS library, so both adapters share it here.

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// The certificate blocks of the PEM file at `path`, whose reading (done
/// by the caller: this crate does no IO) gave `read`, for a TLS library to
/// parse one by one.
///
/// # Errors
/// [`Error::Io`](crate::session::Error::Io) naming the file when it could
/// not be read or holds no certificate.
pub fn certificates_in(
    path: &std::path::Path,
    read: std::io::Result<Vec<u8>>,
) -> Result<Vec<String>, crate::session::Error> {
    let named =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let pem = read.map_err(named)?;
    let blocks = certificate_blocks(&String::from_utf8_lossy(&pem));
    if blocks.is_empty() {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "no PEM certificate");
        return Err(named(e).into());
    }
    Ok(blocks)
}

/// Each `CERTIFICATE` block of a PEM text, from its `BEGIN` line to its
/// `END` line, lines ending in `\n`. Markers count only at the start of a
/// line; a `BEGIN` before the previous block's `END` starts over, and text
/// outside blocks (comments, other PEM types) is skipped. An empty result
/// means the text holds no certificate.
pub fn certificate_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut block = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with(BEGIN) {
            inside = true;
            block.clear();
        }
        if inside {
            block.push_str(line);
            block.push('\n');
        }
        if line.starts_with(END) && inside {
            inside = false;
            blocks.push(std::mem::take(&mut block));
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_bundles_and_skips_everything_else() {
        let text = "junk\r\n-----BEGIN CERTIFICATE-----\r\nAAA\r\n-----END CERTIFICATE-----\r\n\
                    -----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n\
                    -----BEGIN CERTIFICATE-----\nX\n-----BEGIN CERTIFICATE-----\nBBB\n\
                    -----END CERTIFICATE-----";
        assert_eq!(
            certificate_blocks(text),
            [
                "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n",
                "-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n",
            ]
        );
        assert!(certificate_blocks("no certificate").is_empty());
        assert!(certificate_blocks("-----BEGIN CERTIFICATE-----\nA\n").is_empty());
    }
}
