//! Screening of artifact bytes before any parser sees them: Python pickles (and joblib files, which are
//! pickles, often compressed) run code when loaded, so they are refused with the imports they would run,
//! as picklescan reports them; archives and compressed files are refused, the ones that may hide a pickle
//! after decompression under a size cap (a decompression bomb is refused as such).

use std::io::Read;

/// Most bytes a compressed artifact may decompress to while it is screened.
pub const MAX_DECOMPRESSED: u64 = 256 << 20;

/// Imports that give a pickle the power to run commands, open files or sockets, or evaluate code.
const DANGEROUS: &[&str] = &[
    "os.",
    "posix.",
    "nt.",
    "subprocess.",
    "builtins.eval",
    "builtins.exec",
    "builtins.compile",
    "builtins.open",
    "builtins.__import__",
    "builtins.getattr",
    "__builtin__.eval",
    "__builtin__.exec",
    "__builtin__.open",
    "__builtin__.getattr",
    "__builtin__.__import__",
    "socket.",
    "shutil.",
    "runpy.",
    "pty.",
    "sys.",
    "webbrowser.",
    "importlib.",
    "pickle.",
    "_pickle.",
    "marshal.",
    "types.",
    "ctypes.",
    "code.",
    "commands.",
    "asyncio.",
    "requests.",
    "urllib.",
    "http.",
    "ftplib.",
    "telnetlib.",
    "bdb.",
    "pdb.",
    "operator.attrgetter",
    "functools.partial",
    "torch.load",
    "numpy.load",
    "numpy.testing._private.utils.runstring",
];

/// Why an artifact was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What the bytes are.
    pub kind: String,
    /// The modules and names a pickle imports (`module.name`), dangerous ones first.
    pub imports: Vec<String>,
    /// The imports among them that can run code or touch the system.
    pub dangerous: Vec<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} refused", self.kind)?;
        if !self.dangerous.is_empty() {
            write!(f, "; dangerous imports: {}", self.dangerous.join(", "))?;
        }
        let others: Vec<&String> = self.imports.iter().filter(|i| !self.dangerous.contains(i)).collect();
        if !others.is_empty() {
            let shown: Vec<&str> = others.iter().take(20).map(|s| s.as_str()).collect();
            write!(f, "; other imports: {}", shown.join(", "))?;
        }
        Ok(())
    }
}

/// Refuses pickles (raw or compressed), archives and compressed files; `Ok` for anything else.
pub fn screen(bytes: &[u8]) -> Result<(), Refusal> {
    if let Some(imports) = pickle_imports(bytes) {
        return Err(refusal(
            "a Python pickle (it runs code when loaded; export the model to ONNX or the library's JSON/text format)",
            imports,
        ));
    }
    let compressed = match bytes {
        [0x1f, 0x8b, ..] => Some("gzip"),
        [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] => Some("zlib"),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Some("xz"),
        [b'B', b'Z', b'h', ..] => Some("bzip2"),
        [0x04, 0x22, 0x4d, 0x18, ..] => Some("lz4"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some("zstd"),
        [b'P', b'K', 0x03 | 0x05, 0x04 | 0x06, ..] => Some("zip"),
        _ => None,
    };
    let Some(kind) = compressed else { return Ok(()) };
    let inflated = match kind {
        "gzip" => inflate(flate2::read::GzDecoder::new(bytes)),
        "zlib" => inflate(flate2::read::ZlibDecoder::new(bytes)),
        _ => {
            return Err(refusal(
                &format!("a {kind} archive or compressed file (models are accepted uncompressed, in their own format)"),
                vec![],
            ));
        }
    };
    match inflated {
        Inflated::Bomb => Err(refusal(
            &format!(
                "a {kind} file that decompresses to more than {} MiB (a possible decompression bomb)",
                MAX_DECOMPRESSED >> 20
            ),
            vec![],
        )),
        Inflated::Broken => Err(refusal(&format!("a damaged {kind} file"), vec![])),
        Inflated::Data(data) => match pickle_imports(&data) {
            Some(imports) => Err(refusal(&format!("a {kind}-compressed Python pickle (a joblib file?)"), imports)),
            None => Err(refusal(&format!("a {kind}-compressed file (models are accepted uncompressed)"), vec![])),
        },
    }
}

enum Inflated {
    Data(Vec<u8>),
    Bomb,
    Broken,
}

fn inflate(reader: impl Read) -> Inflated {
    let mut data = Vec::new();
    match reader.take(MAX_DECOMPRESSED + 1).read_to_end(&mut data) {
        Ok(_) if data.len() as u64 > MAX_DECOMPRESSED => Inflated::Bomb,
        Ok(_) => Inflated::Data(data),
        Err(_) => Inflated::Broken,
    }
}

fn refusal(kind: &str, mut imports: Vec<String>) -> Refusal {
    imports.sort();
    imports.dedup();
    let dangerous: Vec<String> = imports
        .iter()
        .filter(|i| DANGEROUS.iter().any(|d| if d.ends_with('.') { i.starts_with(d) } else { i == d }))
        .cloned()
        .collect();
    let mut ordered = dangerous.clone();
    ordered.extend(imports.into_iter().filter(|i| !dangerous.contains(i)));
    Refusal { kind: kind.to_owned(), imports: ordered, dangerous }
}

/// The globals a pickle stream imports, when `bytes` is one: every opcode is read up to STOP (nothing is
/// executed). `None` when the bytes are not a pickle.
pub fn pickle_imports(bytes: &[u8]) -> Option<Vec<String>> {
    let mut at = 0usize;
    let mut imports = Vec::new();
    // Recent string pushes and the memo, for STACK_GLOBAL (module and name come from the stack).
    let mut strings: Vec<Option<String>> = Vec::new();
    let mut memo: std::collections::HashMap<u64, Option<String>> = std::collections::HashMap::new();
    let mut opcodes = 0usize;
    let take = |at: &mut usize, n: usize| -> Option<&[u8]> {
        let end = at.checked_add(n)?;
        let slice = bytes.get(*at..end)?;
        *at = end;
        Some(slice)
    };
    let line = |at: &mut usize| -> Option<&[u8]> {
        let rest = bytes.get(*at..)?;
        let n = rest.iter().position(|&b| b == b'\n')?;
        *at += n + 1;
        Some(&rest[..n])
    };
    let le = |s: &[u8]| s.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    loop {
        let op = *bytes.get(at)?;
        at += 1;
        opcodes += 1;
        let mut pushed: Option<Option<String>> = None;
        match op {
            b'.' => break,
            // No argument.
            b'(' | b'0' | b'1' | b'2' | b'N' | b'Q' | b'R' | b'a' | b'b' | b'd' | b'}' | b'e' | b'l' | b']' | b'o'
            | b's' | b't' | b')' | b'u' | 0x81 | 0x85 | 0x86 | 0x87 | 0x88 | 0x89 | 0x8f | 0x90 | 0x91 | 0x92
            | 0x97 | 0x98 => {}
            0x94 => {
                // MEMOIZE: the top of the stack gets the next memo index.
                let top = strings.last().cloned().flatten();
                memo.insert(memo.len() as u64, top);
            }
            0x93 => {
                // STACK_GLOBAL: module and name are the two strings on top of the stack.
                let name = strings.pop().flatten();
                let module = strings.pop().flatten();
                imports.push(format!(
                    "{}.{}",
                    module.unwrap_or_else(|| "?".into()),
                    name.unwrap_or_else(|| "?".into())
                ));
            }
            b'c' | b'i' => {
                let module = String::from_utf8_lossy(line(&mut at)?).into_owned();
                let name = String::from_utf8_lossy(line(&mut at)?).into_owned();
                imports.push(format!("{module}.{name}"));
            }
            // A text line argument.
            b'F' | b'I' | b'L' | b'P' | b'S' | b'V' | b'g' | b'p' => {
                let text = line(&mut at)?;
                match op {
                    b'S' | b'V' => {
                        pushed = Some(Some(String::from_utf8_lossy(text).trim_matches(['\'', '"']).to_owned()))
                    }
                    b'g' => pushed = Some(memo.get(&std::str::from_utf8(text).ok()?.parse().ok()?).cloned().flatten()),
                    b'p' => {
                        let index = std::str::from_utf8(text).ok()?.parse().ok()?;
                        memo.insert(index, strings.last().cloned().flatten());
                    }
                    _ => {}
                }
            }
            // Fixed-size arguments.
            b'J' | 0x84 | b'j' | b'r' => {
                let arg = take(&mut at, 4)?;
                match op {
                    b'j' => pushed = Some(memo.get(&le(arg)).cloned().flatten()),
                    b'r' => {
                        memo.insert(le(arg), strings.last().cloned().flatten());
                    }
                    _ => {}
                }
            }
            b'K' | 0x80 | 0x82 | b'h' | b'q' => {
                let arg = take(&mut at, 1)?;
                match op {
                    0x80 if arg[0] > 5 => return None,
                    b'h' => pushed = Some(memo.get(&u64::from(arg[0])).cloned().flatten()),
                    b'q' => {
                        memo.insert(u64::from(arg[0]), strings.last().cloned().flatten());
                    }
                    _ => {}
                }
            }
            b'M' | 0x83 => {
                take(&mut at, 2)?;
            }
            b'G' | 0x95 => {
                take(&mut at, 8)?;
            }
            // Length-prefixed data.
            b'U' | b'C' | 0x8a | 0x8c => {
                let n = take(&mut at, 1)?[0] as usize;
                let data = take(&mut at, n)?;
                if matches!(op, b'U' | 0x8c) {
                    pushed = Some(Some(String::from_utf8_lossy(data).into_owned()));
                }
            }
            b'T' | b'X' | b'B' | 0x8b => {
                let n = usize::try_from(le(take(&mut at, 4)?)).ok()?;
                let data = take(&mut at, n)?;
                if matches!(op, b'T' | b'X') {
                    pushed = Some(Some(String::from_utf8_lossy(data).into_owned()));
                }
            }
            0x8d | 0x8e | 0x96 => {
                let n = usize::try_from(le(take(&mut at, 8)?)).ok()?;
                let data = take(&mut at, n)?;
                if op == 0x8d {
                    pushed = Some(Some(String::from_utf8_lossy(data).into_owned()));
                }
            }
            _ => return None,
        }
        match pushed {
            Some(value) => strings.push(value),
            None if !matches!(op, 0x94 | b'p' | b'q' | b'r' | 0x95 | 0x80) => strings.push(None),
            None => {}
        }
        if strings.len() > 64 {
            strings.drain(..32);
        }
    }
    // A lone '.' or a text that happens to start with opcodes is not a pickle.
    (opcodes >= 2).then_some(imports)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Python 3.11's `pickle.dumps(E(), protocol=0)` writes for an object whose `__reduce__` returns
    /// `(os.system, ("id",))`.
    const PROTOCOL_0: &[u8] = b"cposix\nsystem\np0\n(Vid\np1\ntp2\nRp3\n.";
    /// The same object with `protocol=4`.
    const PROTOCOL_4: &[u8] = b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.";

    #[test]
    fn pickles_are_refused_with_their_dangerous_imports() {
        let refusal = screen(PROTOCOL_0).unwrap_err();
        assert_eq!(refusal.dangerous, ["posix.system"]);
        assert!(refusal.to_string().contains("Python pickle"), "{refusal}");
        let refusal = screen(PROTOCOL_4).unwrap_err();
        assert_eq!(refusal.dangerous, ["posix.system"], "STACK_GLOBAL read from the stack");
        assert!(refusal.to_string().contains("dangerous imports: posix.system"), "{refusal}");
    }

    #[test]
    fn harmless_pickles_are_still_refused_and_their_imports_listed() {
        let sklearn =
            b"\x80\x04\x8c\x1esklearn.linear_model._logistic\x94\x8c\x12LogisticRegression\x94\x93\x94)\x81\x94.";
        let refusal = screen(sklearn).unwrap_err();
        assert!(refusal.dangerous.is_empty());
        assert_eq!(refusal.imports, ["sklearn.linear_model._logistic.LogisticRegression"]);
    }

    #[test]
    fn compressed_pickles_are_opened_and_bombs_refused() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(PROTOCOL_4).unwrap();
        let refusal = screen(&gz.finish().unwrap()).unwrap_err();
        assert!(refusal.kind.contains("gzip-compressed Python pickle"), "{refusal}");
        assert_eq!(refusal.dangerous, ["posix.system"]);

        let mut bomb = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(MAX_DECOMPRESSED >> 20) + 1 {
            bomb.write_all(&zeros).unwrap();
        }
        let bomb = bomb.finish().unwrap();
        assert!(bomb.len() < 1 << 20, "a small file");
        let refusal = screen(&bomb).unwrap_err();
        assert!(refusal.kind.contains("decompression bomb"), "{refusal}");

        for (magic, kind) in [(&b"PK\x03\x04rest"[..], "zip"), (b"\xfd7zXZ\x00rest", "xz"), (b"BZh91AY", "bzip2")] {
            assert!(screen(magic).unwrap_err().kind.contains(kind));
        }
    }

    #[test]
    fn model_formats_pass() {
        for ok in [
            &br#"{"learner": {}}"#[..],
            b"tree\nversion=v4\nnum_class=1\n",
            b"\x08\x07\x12\x07skl2onnx",
            br#"{"intercept": 0.1, "coefficients": {}}"#,
            b"",
            b".",
        ] {
            assert_eq!(screen(ok), Ok(()), "{:?}", String::from_utf8_lossy(ok));
        }
    }

    #[test]
    fn truncated_or_garbled_pickles_do_not_panic() {
        for cut in 0..PROTOCOL_4.len() {
            let _ = screen(&PROTOCOL_4[..cut]);
        }
        let _ = pickle_imports(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff");
        let _ = pickle_imports(b"\x80\x04\x95\x00");
    }
}
