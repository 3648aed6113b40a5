//! Finding the session cookie in a request's `Cookie` headers, defensively: bytes, not
//! strings (other cookies may hold anything), a scan budget, and few candidates.

/// Most same-named cookies tried (browsers send several when paths or domains differ).
const MAX_CANDIDATES: usize = 4;

/// Values of cookies named `name`, in header order, from at most `budget` header bytes,
/// skipping values longer than `max_len`.
pub(crate) fn candidates<'a>(
    headers: impl IntoIterator<Item = &'a [u8]>,
    name: &str,
    budget: usize,
    max_len: usize,
) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut scanned = 0usize;
    for header in headers {
        scanned = scanned.saturating_add(header.len());
        if scanned > budget {
            break;
        }
        for pair in header.split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (k, v) = (trim(&pair[..eq]), trim(&pair[eq + 1..]));
            if k != name.as_bytes() || v.is_empty() || v.len() > max_len {
                continue;
            }
            // Our values are base64url plus '.', so anything else is not ours.
            if let Ok(v) = std::str::from_utf8(v) {
                found.push(v);
                if found.len() == MAX_CANDIDATES {
                    return found;
                }
            }
        }
    }
    found
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::MAX_VALUE_LEN;

    #[test]
    fn finds_every_same_named_cookie_across_headers() {
        let h1: &[u8] = b"a=1; sid=first; b=2";
        let h2: &[u8] = b"sid=second";
        assert_eq!(
            candidates([h1, h2], "sid", 8192, MAX_VALUE_LEN),
            vec!["first", "second"]
        );
    }

    #[test]
    fn tolerates_garbage_and_non_utf8_neighbours() {
        let h: &[u8] = b"\xff\xfe=\x80; ;=; sid ; x=\xc3; sid= ok ;sidx=no";
        assert_eq!(candidates([h], "sid", 8192, MAX_VALUE_LEN), vec!["ok"]);
    }

    #[test]
    fn respects_budget_and_candidate_limits() {
        let big = vec![b'a'; 9000];
        assert!(
            candidates(
                [big.as_slice(), b"sid=x".as_slice()],
                "sid",
                8192,
                MAX_VALUE_LEN
            )
            .is_empty()
        );
        let many = "sid=v; ".repeat(100);
        assert_eq!(
            candidates([many.as_bytes()], "sid", 8192, MAX_VALUE_LEN).len(),
            MAX_CANDIDATES
        );
        let long = format!("sid={}", "v".repeat(MAX_VALUE_LEN + 1));
        assert!(candidates([long.as_bytes()], "sid", 8192, MAX_VALUE_LEN).is_empty());
    }
}
