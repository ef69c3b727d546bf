//! A walk over every page header of a Parquet file before the parquet crate reads it.
//!
//! Fuzzing found two inputs on which parquet 60 cannot be bounded from outside: a dictionary page whose
//! header declares hundreds of millions of values (the reader sizes the dictionary from that count before
//! decoding: gigabytes from a 1 KB file), and a page header whose Thrift encoding nests lists of billions of
//! elements past the end of the file (the reader's skipping loop never notices the end: minutes of CPU). So
//! each column chunk's page headers are parsed here first, by a Thrift compact-protocol reader that needs
//! every element to have its bytes, and each page must fit in its chunk and each dictionary in its page.
//! The walk reads only the headers (one small read per page), never page data.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use parquet::basic::Type as PhysicalType;
use parquet::file::metadata::ParquetMetaData;

/// Most page headers are tens of bytes; statistics of long strings can make them larger.
const HEADER_WINDOW: usize = 1024;
/// Larger headers are refused (the parquet crate's default limit for a whole footer is 16 MiB).
const MAX_HEADER: usize = 16 * 1024 * 1024;
/// Thrift nesting deeper than this is not a page header.
const MAX_DEPTH: u32 = 16;

/// Checks every page header of every column chunk in `metadata`; the error describes the first bad one.
pub(crate) fn check_page_headers(file: &mut File, metadata: &ParquetMetaData) -> Result<(), String> {
    let file_len = file.metadata().map_err(|e| e.to_string())?.len();
    for (group_index, group) in metadata.row_groups().iter().enumerate() {
        for column in group.columns() {
            let place = || format!("column {} in row group {group_index}", column.column_path());
            let start = column.dictionary_page_offset().unwrap_or(column.data_page_offset());
            let len = column.compressed_size();
            let end = start.checked_add(len).filter(|_| start >= 0 && len >= 0).map(|end| end as u64);
            let Some(end) = end.filter(|&end| end <= file_len) else {
                return Err(format!("{} claims bytes {start}..+{len} of a {file_len}-byte file", place()));
            };
            let descriptor = column.column_descr();
            let value_bits = min_plain_bits(descriptor.physical_type(), descriptor.type_length());
            let mut position = start as u64;
            while position < end {
                let page = read_page_header(file, position, end).map_err(|e| format!("{}: {e}", place()))?;
                let page_end = position + page.header_len as u64 + page.compressed_size as u64;
                if page_end > end {
                    return Err(format!("{}: a page at byte {position} runs past its column chunk", place()));
                }
                if let Some(values) = page.dictionary_values
                    && values as u64 * value_bits > 8 * page.uncompressed_size as u64
                {
                    return Err(format!(
                        "{}: its dictionary declares {values} values in {} bytes",
                        place(),
                        page.uncompressed_size
                    ));
                }
                position = page_end;
            }
        }
    }
    Ok(())
}

/// The fewest bits one value takes in PLAIN encoding (dictionaries are always PLAIN).
fn min_plain_bits(physical_type: PhysicalType, type_length: i32) -> u64 {
    match physical_type {
        PhysicalType::BOOLEAN => 1,
        PhysicalType::INT32 | PhysicalType::FLOAT => 32,
        PhysicalType::INT64 | PhysicalType::DOUBLE => 64,
        PhysicalType::INT96 => 96,
        PhysicalType::BYTE_ARRAY => 32, // a length prefix
        PhysicalType::FIXED_LEN_BYTE_ARRAY => 8 * type_length.max(1) as u64,
    }
}

/// What the walk needs of a page header.
#[derive(Debug, Default, PartialEq)]
struct PageHeader {
    header_len: usize,
    uncompressed_size: u32,
    compressed_size: u32,
    dictionary_values: Option<u32>,
}

fn read_page_header(file: &mut File, position: u64, end: u64) -> Result<PageHeader, String> {
    let available = (end - position).min(MAX_HEADER as u64) as usize;
    let mut window = HEADER_WINDOW.min(available);
    loop {
        let mut bytes = vec![0; window];
        file.seek(SeekFrom::Start(position)).and_then(|_| file.read_exact(&mut bytes)).map_err(|e| e.to_string())?;
        match parse_page_header(&bytes) {
            Err(ThriftError::Eof) if window < available => window = (window * 4).min(available),
            Err(ThriftError::Eof) => return Err(format!("the page header at byte {position} is cut short")),
            Err(ThriftError::Malformed(what)) => return Err(format!("the page header at byte {position} {what}")),
            Ok(header) => return Ok(header),
        }
    }
}

enum ThriftError {
    Eof,
    Malformed(&'static str),
}

/// Parses a `PageHeader` (parquet.thrift) in Thrift's compact protocol, keeping fields 2 and 3 (page
/// sizes) and 7.1 (a dictionary's value count), skipping the rest.
fn parse_page_header(bytes: &[u8]) -> Result<PageHeader, ThriftError> {
    let mut reader = CompactReader { bytes, position: 0 };
    let mut header = PageHeader::default();
    let mut sizes = (None, None);
    reader.read_struct(0, &mut |reader, field, kind| match (field, kind) {
        (2, I32) => {
            sizes.0 = Some(reader.read_i32()?);
            Ok(())
        }
        (3, I32) => {
            sizes.1 = Some(reader.read_i32()?);
            Ok(())
        }
        (7, STRUCT) => reader.read_struct(1, &mut |reader, field, kind| match (field, kind) {
            (1, I32) => {
                let values = reader.read_i32()?;
                header.dictionary_values = Some(non_negative(values, "declares a negative value count")?);
                Ok(())
            }
            _ => reader.skip(kind, 2),
        }),
        _ => reader.skip(kind, 1),
    })?;
    let (Some(uncompressed), Some(compressed)) = sizes else {
        return Err(ThriftError::Malformed("lacks its page sizes"));
    };
    header.uncompressed_size = non_negative(uncompressed, "declares a negative size")?;
    header.compressed_size = non_negative(compressed, "declares a negative size")?;
    header.header_len = reader.position;
    Ok(header)
}

fn non_negative(value: i32, what: &'static str) -> Result<u32, ThriftError> {
    u32::try_from(value).map_err(|_| ThriftError::Malformed(what))
}

// Compact-protocol type codes.
const BOOLEAN_TRUE: u8 = 1;
const BOOLEAN_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;
const UUID: u8 = 13;

struct CompactReader<'a> {
    bytes: &'a [u8],
    position: usize,
}

type FieldVisitor<'v, 'a> = dyn FnMut(&mut CompactReader<'a>, i16, u8) -> Result<(), ThriftError> + 'v;

impl<'a> CompactReader<'a> {
    fn byte(&mut self) -> Result<u8, ThriftError> {
        let byte = *self.bytes.get(self.position).ok_or(ThriftError::Eof)?;
        self.position += 1;
        Ok(byte)
    }

    fn advance(&mut self, n: u64) -> Result<(), ThriftError> {
        let remaining = (self.bytes.len() - self.position) as u64;
        if n > remaining {
            return Err(ThriftError::Eof);
        }
        self.position += n as usize;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, ThriftError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ThriftError::Malformed("holds a varint longer than 64 bits"))
    }

    fn read_i32(&mut self) -> Result<i32, ThriftError> {
        let zigzag = self.varint()?;
        let value = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
        i32::try_from(value).map_err(|_| ThriftError::Malformed("holds an i32 out of range"))
    }

    /// Reads a struct's fields up to its stop byte, handing each field to `visit`, which must consume it.
    fn read_struct(&mut self, depth: u32, visit: &mut FieldVisitor<'_, 'a>) -> Result<(), ThriftError> {
        if depth > MAX_DEPTH {
            return Err(ThriftError::Malformed("nests too deeply"));
        }
        let mut last_field = 0i16;
        loop {
            let byte = self.byte()?;
            if byte == 0 {
                return Ok(());
            }
            let (delta, kind) = (byte >> 4, byte & 0x0f);
            let field = if delta == 0 {
                let id = self.read_i32()?;
                i16::try_from(id).map_err(|_| ThriftError::Malformed("holds a field id out of range"))?
            } else {
                last_field
                    .checked_add(i16::from(delta))
                    .ok_or(ThriftError::Malformed("holds a field id out of range"))?
            };
            last_field = field;
            visit(self, field, kind)?;
        }
    }

    /// Skips one value. Every element of a collection takes at least one byte in the compact protocol, so a
    /// collection declaring more elements than bytes remain is refused before it is walked.
    fn skip(&mut self, kind: u8, depth: u32) -> Result<(), ThriftError> {
        if depth > MAX_DEPTH {
            return Err(ThriftError::Malformed("nests too deeply"));
        }
        match kind {
            BOOLEAN_TRUE | BOOLEAN_FALSE => Ok(()),
            BYTE => self.advance(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.advance(8),
            BINARY => {
                let len = self.varint()?;
                self.advance(len)
            }
            UUID => self.advance(16),
            LIST | SET => {
                let header = self.byte()?;
                let element = header & 0x0f;
                let count = if header >> 4 == 15 { self.varint()? } else { u64::from(header >> 4) };
                self.skip_elements(count, &[element], depth)
            }
            MAP => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                self.skip_elements(count, &[types >> 4, types & 0x0f], depth)
            }
            STRUCT => self.read_struct(depth + 1, &mut |reader, _, kind| reader.skip(kind, depth + 1)),
            _ => Err(ThriftError::Malformed("holds an unknown Thrift type")),
        }
    }

    fn skip_elements(&mut self, count: u64, kinds: &[u8], depth: u32) -> Result<(), ThriftError> {
        if count.saturating_mul(kinds.len() as u64) > (self.bytes.len() - self.position) as u64 {
            return Err(ThriftError::Eof);
        }
        for _ in 0..count {
            for &kind in kinds {
                match kind {
                    // In a collection a boolean is a whole byte.
                    BOOLEAN_TRUE | BOOLEAN_FALSE => self.advance(1)?,
                    _ => self.skip(kind, depth + 1)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: &[u8]) -> Result<PageHeader, &'static str> {
        parse_page_header(bytes).map_err(|e| match e {
            ThriftError::Eof => "eof",
            ThriftError::Malformed(what) => what,
        })
    }

    /// A dictionary page header as parquet-rs writes it: type 2, sizes 24 and 24, dictionary header with
    /// 3 values, PLAIN, unsorted.
    const DICTIONARY_HEADER: &[u8] =
        &[0x15, 0x04, 0x15, 0x30, 0x15, 0x30, 0x4c, 0x15, 0x06, 0x15, 0x00, 0x12, 0x00, 0x00];

    #[test]
    fn a_written_dictionary_header_is_read() {
        let parsed = header(DICTIONARY_HEADER).unwrap();
        let want =
            PageHeader { header_len: 14, uncompressed_size: 24, compressed_size: 24, dictionary_values: Some(3) };
        assert_eq!(parsed, want);
    }

    #[test]
    fn cut_short_and_malformed_headers_are_refused() {
        for len in 0..DICTIONARY_HEADER.len() {
            assert_eq!(header(&DICTIONARY_HEADER[..len]), Err("eof"), "{len} bytes");
        }
        assert_eq!(header(&[0x15, 0x04, 0x00]), Err("lacks its page sizes"));
        assert_eq!(header(&[0x15, 0x04, 0x15, 0x03, 0x15, 0x04, 0x00]), Err("declares a negative size"));
        assert_eq!(header(&[0x1e, 0x00]), Err("holds an unknown Thrift type"));
    }

    #[test]
    fn a_list_declaring_more_elements_than_bytes_is_refused_at_once() {
        // Field 9 (unknown to the reader) is a list of 2^31 doubles, with nothing after it.
        let mut bytes = vec![0x15, 0x04, 0x15, 0x30, 0x15, 0x30, 0x69, 0xf7];
        bytes.extend([0x80, 0x80, 0x80, 0x80, 0x08]);
        let started = std::time::Instant::now();
        assert_eq!(header(&bytes), Err("eof"));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn nesting_is_bounded() {
        // Field 9 is a struct whose field 1 is a struct, and so on.
        let mut bytes = vec![0x15, 0x04, 0x15, 0x30, 0x15, 0x30, 0x9c];
        bytes.extend(std::iter::repeat_n(0x1c, 100));
        assert_eq!(header(&bytes), Err("nests too deeply"));
    }
}
