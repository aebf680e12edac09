//! Writing files the way Python's standard library writes them, so legacy scripts and people
//! diffing outputs see what they expect: `json.dump(indent=N)` (ASCII-only with `\uXXXX`
//! escapes, `": "` separators, no trailing newline), `csv.writer` (CRLF rows, minimal quoting),
//! `repr(float)`, and pickles (serde-pickle, readable by `pickle.load`).

use std::path::Path;

use serde::Serialize;

/// English month abbreviations, as `%b` gives them in the C locale.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Jul` for 7.
pub fn month_abbr(month: u32) -> &'static str {
    MONTHS
        .get(month.wrapping_sub(1) as usize)
        .copied()
        .unwrap_or("???")
}

/// Escapes every non-ASCII character as `\uXXXX` (surrogate pairs above the BMP), as
/// `ensure_ascii=True` does. Only valid on JSON text (non-ASCII only occurs inside strings).
pub fn ensure_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// JSON text of `value` with `indent` spaces, like `json.dumps(value, indent=indent)`.
pub fn json_text<T: Serialize>(value: &T, indent: usize) -> anyhow::Result<String> {
    let pad = vec![b' '; indent];
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(&pad);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    value.serialize(&mut ser)?;
    Ok(ensure_ascii(&String::from_utf8(buf)?))
}

/// Writes `value` like `json.dump(value, f, indent=indent)`, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T, indent: usize) -> anyhow::Result<()> {
    write_atomic(path, json_text(value, indent)?.as_bytes())
}

/// `repr(x)` of a Python float (`50.0`, `33.33333333333333`, `1e-05`).
pub fn py_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        // Python switches to exponent notation outside [1e-4, 1e16).
        let s = format!("{x:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let s = format!("{x}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// CSV bytes of `rows`, like Python's `csv.writer` (CRLF, minimal quoting).
pub fn csv_bytes(rows: &[Vec<String>]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for r in rows {
        if r.len() == 1 && r[0].is_empty() {
            // Python writes a row of one empty field as "".
            out.extend_from_slice(b"\"\"\r\n");
            continue;
        }
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(Vec::new());
        w.write_record(r)?;
        out.extend(w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?);
    }
    Ok(out)
}

/// Pickle bytes of a value (protocol 3, which every Python 3 reads).
pub fn pickle_bytes(value: &serde_pickle::Value) -> anyhow::Result<Vec<u8>> {
    Ok(serde_pickle::value_to_vec(
        value,
        serde_pickle::SerOptions::new(),
    )?)
}

/// Writes bytes to `path` through a temporary file in the same folder, then renames it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_floats() {
        assert_eq!(py_float(50.0), "50.0");
        assert_eq!(py_float(100.0 / 3.0), "33.333333333333336");
        assert_eq!(py_float(1.0 / 3.0 * 100.0), "33.33333333333333");
        assert_eq!(py_float(0.0), "0.0");
        assert_eq!(py_float(0.00001), "1e-05");
        assert_eq!(py_float(0.5), "0.5");
    }

    #[test]
    fn json_like_python() {
        let v = serde_json::json!({"dev": ["a", "Curaçao"], "e": []});
        assert_eq!(json_text(&v, 4).unwrap(), "{\n    \"dev\": [\n        \"a\",\n        \"Cura\\u00e7ao\"\n    ],\n    \"e\": []\n}");
        assert_eq!(ensure_ascii("\"😀\""), "\"\\ud83d\\ude00\"");
    }

    #[test]
    fn csv_like_python() {
        let rows = vec![
            vec![
                "a".to_string(),
                "b,c".into(),
                "say \"hi\"".into(),
                String::new(),
            ],
            vec![String::new()],
        ];
        assert_eq!(
            String::from_utf8(csv_bytes(&rows).unwrap()).unwrap(),
            "a,\"b,c\",\"say \"\"hi\"\"\",\r\n\"\"\r\n"
        );
    }
}
