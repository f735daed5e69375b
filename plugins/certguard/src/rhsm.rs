//! Which paths a Red Hat entitlement certificate grants: pure decoding and matching, no I/O.
//!
//! Candlepin (and Katello, which Pulp's RHSM guard serves) put the content sets an entitlement
//! covers into the client certificate itself, in two formats:
//!
//! - **v1** (no version extension, or one below 3): one extension per content set, OID
//!   `1.3.6.1.4.1.2312.9.2.<id>.1.6`, holding the path as a DER UTF8String;
//! - **v3** (version extension `…2312.9.6` ≥ 3): all paths in one extension, `…2312.9.7`, an
//!   OCTET STRING holding a zlib-compressed lexicon of path segments (NUL-separated, the empty
//!   segment last, marking "end of node") followed by a count of trie nodes and a bit stream
//!   that spells, node by node, each child's segment and its node through two Huffman codes
//!   whose weights are simply the items' positions (1, 2, 3, …).
//!
//! A path in the certificate may hold `$variables` (`$releasever`, `$basearch`), each matching
//! one whole path segment of the request. A request is granted when some certificate path is a
//! prefix of it, segment by segment.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use x509_parser::certificate::X509Certificate;

/// Red Hat's enterprise OID arc.
const RH_OID: &str = "1.3.6.1.4.1.2312.9";

/// A malformed entitlement: the request is refused with this reason.
type Malformed = String;

/// Whether `cert` grants `path` (the request path below the content prefix).
pub fn check_path(cert: &X509Certificate<'_>, path: &str) -> Result<bool, Malformed> {
    let normalized = normalize(path);
    if major_version(cert)? >= 3 {
        Ok(Entitlement::from_certificate(cert)?.grants(&normalized))
    } else {
        check_v1(cert, &normalized)
    }
}

/// Leading and trailing slashes dropped, runs of slashes collapsed.
fn normalize(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// The extension value under `oid`, if the certificate has it.
fn extension<'a>(cert: &'a X509Certificate<'_>, oid: &str) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == oid)
        .map(|e| e.value)
}

/// The major number of the entitlement format (`1.0` when the certificate does not say).
fn major_version(cert: &X509Certificate<'_>) -> Result<u32, Malformed> {
    let Some(value) = extension(cert, &format!("{RH_OID}.6")) else {
        return Ok(1);
    };
    let text = std::str::from_utf8(der(value, UTF8_STRING)?)
        .map_err(|_| "The entitlement version is not text.".to_owned())?;
    text.split('.')
        .next()
        .and_then(|m| m.trim().parse().ok())
        .ok_or_else(|| format!("Unknown entitlement version {text:?}."))
}

const UTF8_STRING: u8 = 12;
const OCTET_STRING: u8 = 4;

/// The contents of a DER value of type `tag` (short or long length form).
fn der(value: &[u8], tag: u8) -> Result<&[u8], Malformed> {
    let bad = || "Malformed entitlement extension.".to_owned();
    match value.split_first() {
        Some((t, rest)) if *t == tag => {
            let (len, body) = split_count(rest).ok_or_else(bad)?;
            (body.len() == len).then_some(body).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

/// A count as DER writes lengths: one byte below 128, else `0x80 | n` then `n` big-endian
/// bytes; with what follows it.
fn split_count(v: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = v.split_first()?;
    if first & 0x80 == 0 {
        return Some((usize::from(first), rest));
    }
    let n = usize::from(first & 0x7f);
    if n > std::mem::size_of::<usize>() || rest.len() < n {
        return None;
    }
    let len = rest[..n]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Some((len, &rest[n..]))
}

/// v1: some content-set extension's path, with each `$variable` standing for one or more
/// characters up to the next slash, is a prefix of `path` ending at a segment boundary.
fn check_v1(cert: &X509Certificate<'_>, path: &str) -> Result<bool, Malformed> {
    let prefix = format!("{RH_OID}.2.");
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        let is_path = oid
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".1.6"))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        if !is_path {
            continue;
        }
        let granted = std::str::from_utf8(der(ext.value, UTF8_STRING)?)
            .map_err(|_| "A content set path is not text.".to_owned())?;
        if v1_matches(granted.trim_matches('/'), path) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `granted` (a v1 path, slashes trimmed) as a prefix of `path`: literal text must match; a
/// `$` and the characters after it up to the next slash match one or more non-slash
/// characters; the match must end at the end of `path` or before a slash.
fn v1_matches(granted: &str, path: &str) -> bool {
    let mut rest = path;
    let mut pieces = granted.split('$');
    let first = pieces.next().unwrap_or("");
    let Some(after) = rest.strip_prefix(first) else {
        return false;
    };
    rest = after;
    for piece in pieces {
        // The variable's own name runs to the next slash; what follows is literal.
        let literal = piece.find('/').map_or("", |i| &piece[i..]);
        let taken = rest.find('/').unwrap_or(rest.len());
        if taken == 0 {
            return false;
        }
        rest = &rest[taken..];
        let Some(after) = rest.strip_prefix(literal) else {
            return false;
        };
        rest = after;
    }
    rest.is_empty() || rest.starts_with('/')
}

/// A Huffman code over `n` symbols weighted 1, 2, …, n in order, as the v3 format builds it:
/// the two lightest subtrees merge (earlier first on ties; the lighter one on the 0 branch)
/// until one remains.
struct Code {
    /// Branch nodes: (child on 0, child on 1); a child `< n` is a symbol, else branch `c - n`.
    branches: Vec<(usize, usize)>,
    symbols: usize,
}

impl Code {
    fn new(symbols: usize) -> Result<Code, Malformed> {
        if symbols < 2 {
            return Err("An entitlement's Huffman code needs two symbols.".into());
        }
        let mut heap: BinaryHeap<Reverse<(usize, usize, usize)>> =
            (0..symbols).map(|i| Reverse((i + 1, i + 1, i))).collect();
        let mut serial = symbols;
        let mut branches = Vec::with_capacity(symbols - 1);
        while let (Some(Reverse((lw, _, l))), Some(Reverse((rw, _, r)))) = (heap.pop(), heap.pop())
        {
            serial += 1;
            heap.push(Reverse((lw + rw, serial, symbols + branches.len())));
            branches.push((l, r));
        }
        Ok(Code { branches, symbols })
    }

    /// The next symbol read from `bits`; `None` when the bits run out.
    fn decode(&self, bits: &mut Bits<'_>) -> Option<usize> {
        let mut node = self.symbols + self.branches.len() - 1;
        while node >= self.symbols {
            let (zero, one) = self.branches[node - self.symbols];
            node = if bits.next()? { one } else { zero };
        }
        Some(node)
    }

    /// Each symbol's bits, for the encoder the tests use.
    #[cfg(test)]
    fn codes(&self) -> Vec<Vec<bool>> {
        let mut out = vec![Vec::new(); self.symbols];
        let mut stack = vec![(self.symbols + self.branches.len() - 1, Vec::new())];
        while let Some((node, prefix)) = stack.pop() {
            if node < self.symbols {
                out[node] = prefix;
                continue;
            }
            let (zero, one) = self.branches[node - self.symbols];
            for (child, bit) in [(zero, false), (one, true)] {
                let mut p = prefix.clone();
                p.push(bit);
                stack.push((child, p));
            }
        }
        out
    }
}

/// Bits most significant first.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl Iterator for Bits<'_> {
    type Item = bool;
    fn next(&mut self) -> Option<bool> {
        let byte = self.data.get(self.at / 8)?;
        let bit = (byte << (self.at % 8)) & 0x80 != 0;
        self.at += 1;
        Some(bit)
    }
}

/// A v3 entitlement's path trie: node 0 is the root; each node's children by segment.
struct Entitlement {
    nodes: Vec<Vec<(String, usize)>>,
}

impl Entitlement {
    fn from_certificate(cert: &X509Certificate<'_>) -> Result<Entitlement, Malformed> {
        let value = extension(cert, &format!("{RH_OID}.7"))
            .ok_or("The certificate carries no entitlement content sets.")?;
        Entitlement::decode(der(value, OCTET_STRING)?)
    }

    fn decode(payload: &[u8]) -> Result<Entitlement, Malformed> {
        let bad = |what: &str| format!("Malformed entitlement content sets: {what}.");
        let (lexicon, used) = inflate(payload).ok_or_else(|| bad("not zlib data"))?;
        let (node_count, path_bits) =
            split_count(&payload[used..]).ok_or_else(|| bad("no node count"))?;
        let words = lexicon
            .split(|b| *b == 0)
            .map(|w| String::from_utf8(w.to_vec()).map_err(|_| bad("a segment is not text")))
            .collect::<Result<Vec<_>, _>>()?;
        let word_code = Code::new(words.len())?;
        // Children name nodes 1.. (the root is no one's child).
        let node_code = Code::new(node_count.saturating_sub(1))?;
        if node_count > path_bits.len() * 8 {
            return Err(bad("more nodes than bits"));
        }
        let mut bits = Bits {
            data: path_bits,
            at: 0,
        };
        let mut nodes = Vec::with_capacity(node_count);
        for _ in 0..node_count {
            let mut children: Vec<(String, usize)> = Vec::new();
            loop {
                let word = &words[word_code
                    .decode(&mut bits)
                    .ok_or_else(|| bad("truncated"))?];
                if word.is_empty() {
                    break;
                }
                let child = node_code
                    .decode(&mut bits)
                    .ok_or_else(|| bad("truncated"))?
                    + 1;
                if children.iter().any(|(w, _)| w == word) {
                    return Err(bad("a segment twice in one node"));
                }
                children.push((word.clone(), child));
            }
            nodes.push(children);
        }
        Ok(Entitlement { nodes })
    }

    /// Whether a path of the trie (a walk from the root to a leaf) is a prefix of `path`.
    fn grants(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        self.walk(0, &segments)
    }

    fn walk(&self, node: usize, segments: &[&str]) -> bool {
        let children = &self.nodes[node];
        if children.is_empty() {
            return true;
        }
        let Some((segment, rest)) = segments.split_first() else {
            return false;
        };
        children.iter().any(|(word, child)| {
            (word == segment || word.starts_with('$')) && self.walk(*child, rest)
        })
    }
}

/// A zlib stream at the start of `data`, inflated, and how many bytes of `data` it took.
fn inflate(data: &[u8]) -> Option<(Vec<u8>, usize)> {
    // A lexicon of path segments is small; refuse to inflate anything absurd.
    const LIMIT: usize = 16 << 20;
    let mut z = flate2::Decompress::new(true);
    let mut out = Vec::with_capacity(data.len() * 4);
    loop {
        if out.len() == out.capacity() {
            if out.len() >= LIMIT {
                return None;
            }
            out.reserve(out.len().max(1024));
        }
        let consumed = usize::try_from(z.total_in()).ok()?;
        let status = z
            .decompress_vec(&data[consumed..], &mut out, flate2::FlushDecompress::None)
            .ok()?;
        match status {
            flate2::Status::StreamEnd => return Some((out, usize::try_from(z.total_in()).ok()?)),
            flate2::Status::Ok => {}
            flate2::Status::BufError if out.len() < out.capacity() => return None,
            flate2::Status::BufError => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The v3 payload for a trie, written as Candlepin writes it: lexicon (the empty word
    /// last, so heaviest), node count, then per node each child's word and node, then "".
    fn encode(nodes: &[Vec<(&str, usize)>]) -> Vec<u8> {
        let mut words: Vec<&str> = Vec::new();
        for (w, _) in nodes.iter().flatten() {
            if !words.contains(w) {
                words.push(w);
            }
        }
        words.push("");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(words.join("\0").as_bytes()).unwrap();
        let mut out = z.finish().unwrap();
        assert!(nodes.len() < 128);
        out.push(nodes.len() as u8);
        let word_codes = Code::new(words.len()).unwrap().codes();
        let node_codes = Code::new(nodes.len() - 1).unwrap().codes();
        let mut bits: Vec<bool> = Vec::new();
        for node in nodes {
            for (w, child) in node {
                let i = words.iter().position(|x| x == w).unwrap();
                bits.extend(&word_codes[i]);
                bits.extend(&node_codes[child - 1]);
            }
            bits.extend(&word_codes[words.len() - 1]);
        }
        for chunk in bits.chunks(8) {
            let mut byte = 0u8;
            for (i, b) in chunk.iter().enumerate() {
                byte |= u8::from(*b) << (7 - i);
            }
            out.push(byte);
        }
        out
    }

    #[test]
    fn counts_read_as_der_lengths() {
        let tail = [0xde, 0xad];
        for (head, n) in [
            (&[0x00][..], 0),
            (&[0x7f], 127),
            (&[0x80], 0),
            (&[0x81, 0xff], 255),
            (&[0x84, 0, 0, 1, 4], 260),
        ] {
            let v = [head, &tail].concat();
            assert_eq!(split_count(&v), Some((n, &tail[..])));
        }
        assert_eq!(split_count(&[0x82, 1]), None);
    }

    #[test]
    fn huffman_weights_follow_positions() {
        // Three symbols weighted 1, 2, 3: 1 and 2 merge (3), then that with symbol 3 on
        // the 1 branch because the merged node came later.
        let codes = Code::new(3).unwrap().codes();
        assert_eq!(codes[2], vec![false]);
        assert_eq!(codes[0], vec![true, false]);
        assert_eq!(codes[1], vec![true, true]);
        assert!(Code::new(1).is_err());
    }

    #[test]
    fn v3_tries_grant_prefixes_with_variables() {
        // /org/Library/custom/foo and /org/Library/dist/$releasever/os
        let nodes = vec![
            vec![("org", 1)],
            vec![("Library", 2)],
            vec![("custom", 3), ("dist", 4)],
            vec![("foo", 5)],
            vec![("$releasever", 6)],
            vec![],
            vec![("os", 5)],
        ];
        let e = Entitlement::decode(&encode(&nodes)).unwrap();
        assert!(e.grants("org/Library/custom/foo"));
        assert!(e.grants("org/Library/custom/foo/Packages/a.rpm"));
        assert!(e.grants("org/Library/dist/8/os/repodata"));
        assert!(!e.grants("org/Library/dist/8"));
        assert!(!e.grants("org/Library/custom"));
        assert!(!e.grants("org/Library/other/foo"));
        assert!(!e.grants("elsewhere"));

        // Garbage and truncation are refusals, not panics.
        assert!(Entitlement::decode(b"not zlib").is_err());
        let mut cut = encode(&nodes);
        cut.truncate(cut.len() - 2);
        assert!(Entitlement::decode(&cut).is_err());
    }

    #[test]
    fn v1_paths_match_segment_wise() {
        let g = "Default_Organization/Library/content/dist/rhel/server/7/$releasever/$basearch/os";
        assert!(v1_matches(
            g,
            "Default_Organization/Library/content/dist/rhel/server/7/7.4/x86_64/os"
        ));
        assert!(v1_matches(
            g,
            "Default_Organization/Library/content/dist/rhel/server/7/7.4/x86_64/os/repodata"
        ));
        assert!(!v1_matches(
            g,
            "Default_Organization/Library/content/dist/rhel/server/7/7.4/os"
        ));
        assert!(!v1_matches("a/b", "a/bc"));
        assert!(v1_matches("a/b", "a/b"));
        assert!(!v1_matches("a/$x", "a/"));
        assert_eq!(normalize("//a//b/"), "a/b");
    }
}
