//! Universal Binary JSON (draft 12), as XGBoost ≥ 2.1 writes its models by default (`.ubj`), read into a
//! `serde_json::Value` so the JSON model reader takes it from there.
//!
//! Hostile input is bounded: at most [`MAX_UBJSON_BYTES`] read, nesting at most [`MAX_DEPTH`], a container's
//! declared count never allocates more than the bytes left could hold (typed containers of zero-width elements
//! are refused), and the decoded values may take at most [`MEMORY_FACTOR`] times the input's size in memory (a
//! byte can become a 32-byte `Value`: without this, a 1-byte-per-element array would multiply its size by 32).
//! No crate reads UBJSON's optimized (typed, counted) containers; the format is small.

use serde_json::{Map, Number, Value};

/// Deepest nesting read (XGBoost's models nest about six levels).
pub const MAX_DEPTH: usize = 64;

/// Largest UBJSON read: far above any credit or fraud booster (a thousand trees of 256 leaves is ~10 MiB).
pub const MAX_UBJSON_BYTES: usize = 64 << 20;

/// The decoded values' memory, at most this many times the input's size (plus 1 MiB).
pub const MEMORY_FACTOR: usize = 16;

/// What one decoded value is charged (the size of a `serde_json::Value`), besides its text.
const VALUE_COST: usize = std::mem::size_of::<Value>();

/// Why bytes are not UBJSON Warden reads.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("UBJSON at byte {at}: {message}")]
pub struct UbjsonError {
    /// Where.
    pub at: usize,
    /// What.
    pub message: String,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Bytes of memory the values decoded so far may still take.
    budget: usize,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, message: impl Into<String>) -> Result<T, UbjsonError> {
        Err(UbjsonError { at: self.at, message: message.into() })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], UbjsonError> {
        match self.bytes.get(self.at..self.at.saturating_add(n)) {
            Some(slice) if self.at.checked_add(n).is_some() => {
                self.at += n;
                Ok(slice)
            }
            _ => self.fail(format!("{n} bytes announced, {} left", self.bytes.len() - self.at)),
        }
    }

    fn byte(&mut self) -> Result<u8, UbjsonError> {
        Ok(self.take(1)?[0])
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// An integer of the type `marker` names (lengths and counts).
    fn integer(&mut self, marker: u8) -> Result<i64, UbjsonError> {
        Ok(match marker {
            b'i' => i64::from(self.take(1)?[0] as i8),
            b'U' => i64::from(self.take(1)?[0]),
            b'I' => i64::from(i16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes"))),
            b'l' => i64::from(i32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes"))),
            b'L' => i64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")),
            other => return self.fail(format!("a length must be an integer, not '{}'", other as char)),
        })
    }

    /// A length or count: an integer, not negative.
    fn length(&mut self) -> Result<usize, UbjsonError> {
        let marker = self.byte()?;
        let value = self.integer(marker)?;
        usize::try_from(value).or_else(|_| self.fail(format!("negative length {value}")))
    }

    fn text(&mut self) -> Result<String, UbjsonError> {
        let length = self.length()?;
        self.charge(length)?;
        let bytes = self.take(length)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(_) => self.fail("a string is not UTF-8"),
        }
    }

    /// Charges `bytes` of decoded memory against the budget.
    fn charge(&mut self, bytes: usize) -> Result<(), UbjsonError> {
        match self.budget.checked_sub(bytes) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => {
                self.fail(format!("the values would take more than {MEMORY_FACTOR} times the input's size in memory"))
            }
        }
    }

    /// The value whose type `marker` names.
    fn value_of(&mut self, marker: u8, depth: usize) -> Result<Value, UbjsonError> {
        self.charge(VALUE_COST)?;
        let number = |n: Option<Number>, r: &Self| {
            n.map(Value::Number).map_or_else(|| r.fail("a number that is not finite"), Ok)
        };
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' | b'U' | b'I' | b'l' | b'L' => Value::from(self.integer(marker)?),
            b'd' => {
                let v = f32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes"));
                number(Number::from_f64(f64::from(v)), self)?
            }
            b'D' => {
                let v = f64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes"));
                number(Number::from_f64(v), self)?
            }
            b'C' => {
                self.charge(1)?;
                Value::String(char::from(self.byte()?).to_string())
            }
            b'S' | b'H' => Value::String(self.text()?),
            b'[' => self.array(depth + 1)?,
            b'{' => self.object(depth + 1)?,
            other => return self.fail(format!("unknown marker '{}'", other.escape_ascii())),
        })
    }

    fn value(&mut self, depth: usize) -> Result<Value, UbjsonError> {
        let mut marker = self.byte()?;
        while marker == b'N' {
            marker = self.byte()?;
        }
        self.value_of(marker, depth)
    }

    /// A container's optional `$type` and `#count`; the count is checked against the bytes left.
    fn header(&mut self) -> Result<(Option<u8>, Option<usize>), UbjsonError> {
        let kind = if self.peek() == Some(b'$') {
            self.at += 1;
            Some(self.byte()?)
        } else {
            None
        };
        let count = if self.peek() == Some(b'#') {
            self.at += 1;
            Some(self.length()?)
        } else if kind.is_some() {
            return self.fail("a typed container without a count");
        } else {
            None
        };
        if let (Some(count), Some(kind)) = (count, kind) {
            let width = match kind {
                b'i' | b'U' | b'C' => 1,
                b'I' => 2,
                b'l' | b'd' => 4,
                b'L' | b'D' => 8,
                b'Z' | b'T' | b'F' | b'N' => return self.fail("a typed container of values without bytes"),
                _ => 1, // strings and containers take at least a byte each
            };
            if count.saturating_mul(width) > self.bytes.len() - self.at {
                return self.fail(format!("{count} elements announced, more than the bytes left hold"));
            }
        }
        Ok((kind, count))
    }

    fn array(&mut self, depth: usize) -> Result<Value, UbjsonError> {
        if depth > MAX_DEPTH {
            return self.fail(format!("nested deeper than {MAX_DEPTH}"));
        }
        let (kind, count) = self.header()?;
        let mut items = Vec::with_capacity(count.unwrap_or(0).min(self.bytes.len() - self.at));
        match count {
            Some(count) => {
                for _ in 0..count {
                    items.push(match kind {
                        Some(marker) => self.value_of(marker, depth)?,
                        None => self.value(depth)?,
                    });
                }
            }
            None => loop {
                match self.peek() {
                    Some(b']') => {
                        self.at += 1;
                        break;
                    }
                    Some(_) => items.push(self.value(depth)?),
                    None => return self.fail("an array without its end"),
                }
            },
        }
        Ok(Value::Array(items))
    }

    fn object(&mut self, depth: usize) -> Result<Value, UbjsonError> {
        if depth > MAX_DEPTH {
            return self.fail(format!("nested deeper than {MAX_DEPTH}"));
        }
        let (kind, count) = self.header()?;
        let mut fields = Map::new();
        let field = |r: &mut Self, fields: &mut Map<String, Value>| -> Result<(), UbjsonError> {
            r.charge(VALUE_COST)?; // the map's entry
            let key = r.text()?;
            let value = match kind {
                Some(marker) => r.value_of(marker, depth)?,
                None => r.value(depth)?,
            };
            fields.insert(key, value);
            Ok(())
        };
        match count {
            Some(count) => {
                for _ in 0..count {
                    field(self, &mut fields)?;
                }
            }
            None => loop {
                match self.peek() {
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    Some(_) => field(self, &mut fields)?,
                    None => return self.fail("an object without its end"),
                }
            },
        }
        Ok(Value::Object(fields))
    }
}

/// Reads one UBJSON value filling `bytes` whole.
pub fn to_value(bytes: &[u8]) -> Result<Value, UbjsonError> {
    if bytes.len() > MAX_UBJSON_BYTES {
        return Err(UbjsonError {
            at: 0,
            message: format!("{} bytes; a UBJSON model may have at most {MAX_UBJSON_BYTES}", bytes.len()),
        });
    }
    let budget = bytes.len().saturating_mul(MEMORY_FACTOR).saturating_add(1 << 20);
    let mut reader = Reader { bytes, at: 0, budget };
    let value = reader.value(0)?;
    if reader.at != bytes.len() {
        return reader.fail("bytes after the value");
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_and_optimized_containers_read_as_json() {
        // {"a": 1, "b": [1.5f32, -2.0f32] (typed, counted), "c": "xy", "d": [true, null] (plain)}
        let mut bytes = vec![b'{', b'U', 1, b'a', b'U', 1, b'U', 1, b'b', b'[', b'$', b'd', b'#', b'U', 2];
        bytes.extend(1.5f32.to_be_bytes());
        bytes.extend((-2.0f32).to_be_bytes());
        bytes.extend([b'U', 1, b'c', b'S', b'U', 2, b'x', b'y', b'U', 1, b'd', b'[', b'T', b'Z', b']', b'}']);
        assert_eq!(to_value(&bytes).unwrap(), json!({"a": 1, "b": [1.5, -2.0], "c": "xy", "d": [true, null]}));
        // A float32 comes back as the same float32.
        let third = 1.0f32 / 3.0;
        let mut single = vec![b'd'];
        single.extend(third.to_be_bytes());
        assert_eq!(to_value(&single).unwrap().as_f64().unwrap() as f32, third);
    }

    #[test]
    fn hostile_bytes_are_refused_with_the_place() {
        // A count no byte supply could hold, a typed container of nulls, too deep, truncated, trailing bytes.
        let huge = [b'[', b'$', b'D', b'#', b'L', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(to_value(&huge).unwrap_err().message.contains("more than the bytes left"));
        let nulls = [b'[', b'$', b'Z', b'#', b'l', 0x7f, 0xff, 0xff, 0xff];
        assert!(to_value(&nulls).unwrap_err().message.contains("without bytes"));
        let deep: Vec<u8> = std::iter::repeat_n(b'[', MAX_DEPTH + 2).collect();
        assert!(to_value(&deep).unwrap_err().message.contains("nested deeper"));
        assert!(to_value(&[b'S', b'U', 5, b'a']).unwrap_err().message.contains("5 bytes announced"));
        assert!(to_value(&[b'T', b'T']).unwrap_err().message.contains("bytes after the value"));
        assert_eq!(to_value(&[b'S', b'i', 0xff]).unwrap_err().message, "negative length -1");
    }

    #[test]
    fn one_byte_elements_cannot_multiply_the_memory_they_take() {
        // 4 MiB of typed uint8 and char elements: each would be a 32-byte value, 128 MiB, over 16x the input.
        for kind in [b'U', b'C'] {
            let count = 4u32 << 20;
            let mut bytes = vec![b'[', b'$', kind, b'#', b'l'];
            bytes.extend(count.to_be_bytes());
            bytes.extend(std::iter::repeat_n(b'a', count as usize));
            let refused = to_value(&bytes).unwrap_err();
            assert!(refused.message.contains("times the input's size in memory"), "{refused}");
        }
        // And an oversized input is refused before a byte is decoded.
        assert!(to_value(&vec![b'Z'; MAX_UBJSON_BYTES + 1]).unwrap_err().message.contains("at most"));
    }
}
