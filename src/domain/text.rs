//! Text as users send it, made fit to store: one set of rules for every JSON body, form and
//! query parameter.
//!
//! - normalised to Unicode NFC (an "ä" typed on a Mac and one typed on Windows are the
//!   same string, so search and uniqueness agree);
//! - control characters refused (NUL, the C0 set, DEL, C1); tab and line breaks only in
//!   multi-line kinds, where `\r\n` and `\r` become `\n`;
//! - at most a number of characters per kind of field ([`Kind::max`]).
//!
//! The stores accept only [`Checked`] inputs (or the single-value types [`Email`] and
//! [`Secret`] of the login), and only the check makes one: unvalidated text cannot reach
//! the database.

use std::ops::Deref;

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::{DomainError, Problems};

/// What a text field holds, and so how long it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Names of people, organisations, services, tokens; job titles: 200 characters.
    Name,
    /// An e-mail address (RFC 5321's limit): 254.
    Email,
    /// Codes, keys and enum words (`kind`, `action`, AGS, Leika key, OZG id, phone): 100.
    Code,
    /// Free text over several lines (notes, reasons, addresses, descriptions, AVV): 4,000.
    Note,
    /// A search string: 200.
    Search,
    /// A web address: 2,048.
    Url,
    /// A password: 1,024, not normalised (its bytes are what was hashed).
    Secret,
}

impl Kind {
    /// The most characters (Unicode scalar values, after normalisation) a value may have.
    pub const fn max(self) -> usize {
        match self {
            Kind::Name | Kind::Search => 200,
            Kind::Email => 254,
            Kind::Code => 100,
            Kind::Note => 4000,
            Kind::Url => 2048,
            Kind::Secret => 1024,
        }
    }

    fn multiline(self) -> bool {
        self == Kind::Note
    }
}

/// The text in its stored form, or the German message why it cannot be stored.
pub fn clean(kind: Kind, raw: &str) -> Result<String, String> {
    let mut bad = None;
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if kind.multiline() => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\n' | '\t' if kind.multiline() => out.push(c),
            // U+FFFD is what a decoder puts where the bytes were not UTF-8 (a form field
            // with a lone surrogate arrives so); noncharacters are never text.
            c if c.is_control() || c == '\u{FFFD}' || noncharacter(c) => {
                bad.get_or_insert(c);
            }
            c => out.push(c),
        }
    }
    if let Some(c) = bad {
        let what = match c {
            '\0' => "ein Nullzeichen (U+0000)".to_string(),
            '\n' | '\r' => "einen Zeilenumbruch; dieses Feld ist einzeilig".to_string(),
            '\t' => "einen Tabulator; dieses Feld ist einzeilig".to_string(),
            '\u{FFFD}' => {
                "ein Ersatzzeichen (U+FFFD), weil sie nicht als gültiges UTF-8 ankam,".to_string()
            }
            c if noncharacter(c) => format!("ein Nicht-Zeichen (U+{:04X})", c as u32),
            c => format!("ein Steuerzeichen (U+{:04X})", c as u32),
        };
        return Err(format!(
            "Die Eingabe enthält {what}, das nicht gespeichert werden kann. Bitte entfernen Sie es."
        ));
    }
    let out: String = if kind == Kind::Secret {
        out
    } else {
        out.nfc().collect()
    };
    let n = out.chars().count();
    if n > kind.max() {
        return Err(format!(
            "Höchstens {} Zeichen sind erlaubt, eingegeben wurden {}.",
            thousands(kind.max()),
            thousands(n)
        ));
    }
    Ok(out)
}

/// The Unicode noncharacters: U+FDD0..U+FDEF and the last two code points of every plane.
fn noncharacter(c: char) -> bool {
    let n = c as u32;
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
}

/// `12345` as German writes it: `12.345`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(d);
    }
    out
}

/// Walks an input's text fields, cleaning them in place and collecting what is refused.
#[derive(Default)]
pub struct TextCheck {
    problems: Problems,
}

impl TextCheck {
    pub fn text(&mut self, field: &str, kind: Kind, value: &mut String) {
        match clean(kind, value) {
            Ok(c) => *value = c,
            Err(message) => self.problems.add(field, message),
        }
    }

    pub fn opt(&mut self, field: &str, kind: Kind, value: &mut Option<String>) {
        if let Some(v) = value {
            self.text(field, kind, v);
        }
    }

    /// A PATCH field that may be cleared (`null`).
    pub fn opt2(&mut self, field: &str, kind: Kind, value: &mut Option<Option<String>>) {
        if let Some(Some(v)) = value {
            self.text(field, kind, v);
        }
    }

    /// A list of texts; each is reported as `field[i]`.
    pub fn list(&mut self, field: &str, kind: Kind, values: &mut [String]) {
        for (i, v) in values.iter_mut().enumerate() {
            self.text(&format!("{field}[{i}]"), kind, v);
        }
    }

    /// Nested inputs in a list, reported as `field[i].…`.
    pub fn each<T: Inspect>(&mut self, field: &str, values: &mut [T]) {
        for (i, v) in values.iter_mut().enumerate() {
            self.nested(&format!("{field}[{i}]"), v);
        }
    }

    /// Every string and key inside a JSON value (keys as [`Kind::Code`]), reported by path.
    pub fn json(&mut self, field: &str, kind: Kind, value: &mut Value) {
        match value {
            Value::String(s) => self.text(field, kind, s),
            Value::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    self.json(&format!("{field}[{i}]"), kind, v);
                }
            }
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (mut key, mut v) in entries {
                    let shown: String = key
                        .chars()
                        .take(40)
                        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                        .collect();
                    let path = format!("{field}.{shown}");
                    self.text(&path, Kind::Code, &mut key);
                    self.json(&path, kind, &mut v);
                    map.insert(key, v);
                }
            }
            _ => {}
        }
    }

    /// A map of JSON values (an agreement's parameters, a task's evidence): keys as
    /// [`Kind::Code`], strings inside as `kind`.
    pub fn map<M>(&mut self, field: &str, kind: Kind, map: &mut M)
    where
        M: Default + IntoIterator<Item = (String, Value)> + Extend<(String, Value)>,
    {
        let mut object = serde_json::Map::new();
        object.extend(std::mem::take(map));
        let mut value = Value::Object(object);
        self.json(field, kind, &mut value);
        if let Value::Object(object) = value {
            map.extend(object);
        }
    }

    /// A nested input, its fields reported under `field.`.
    pub fn nested<T: Inspect>(&mut self, field: &str, value: &mut T) {
        let mut inner = TextCheck::default();
        value.inspect(&mut inner);
        for (f, m) in inner.problems.into_inner() {
            self.problems.add(&format!("{field}.{f}"), m);
        }
    }
}

/// An input whose text fields can be checked: it names each field with its [`Kind`].
pub trait Inspect {
    fn inspect(&mut self, check: &mut TextCheck);
}

/// An input whose text has been cleaned and checked. Only [`Checked::new`] makes one, and
/// the stores take nothing else.
#[derive(Debug, Clone)]
pub struct Checked<T>(T);

impl<T: Inspect> Checked<T> {
    /// Cleans every text field; refuses the input (all problems at once) if any cannot be
    /// stored.
    pub fn new(mut value: T) -> Result<Checked<T>, DomainError> {
        let mut check = TextCheck::default();
        value.inspect(&mut check);
        check.problems.into_result()?;
        Ok(Checked(value))
    }
}

impl<T: Inspect> Checked<T> {
    /// Sets what the server decides (never the caller), e.g. the deployment's signing
    /// order; the result is checked again.
    pub fn amend(self, f: impl FnOnce(&mut T)) -> Result<Checked<T>, DomainError> {
        let mut value = self.0;
        f(&mut value);
        Checked::new(value)
    }
}

impl<T> Checked<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Checked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

macro_rules! single {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Cleans and checks one value; a refusal names `field`.
            pub fn parse(field: &str, raw: &str) -> Result<$name, DomainError> {
                clean($kind, raw)
                    .map($name)
                    .map_err(|message| DomainError::invalid(field, message))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
    };
}

single!(
    /// An e-mail address as typed at login (not checked for form: the login answers
    /// "wrong e-mail or password" either way).
    Email,
    Kind::Email
);
single!(
    /// A password as typed.
    Secret,
    Kind::Secret
);

impl Problems {
    /// The collected (field, message) pairs.
    pub fn into_inner(self) -> Vec<(String, String)> {
        self.0
    }
}

/// Text made safe inside XML or HTML element content and double-quoted attribute values
/// (the cleaned SVG of a coat of arms, the contract text on the agreement page).
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_and_line_breaks() {
        // "a" + combining diaeresis becomes "ä".
        assert_eq!(clean(Kind::Name, "Ka\u{0308}se").unwrap(), "Käse");
        assert_eq!(clean(Kind::Note, "a\r\nb\rc\td").unwrap(), "a\nb\nc\td");
        assert!(clean(Kind::Name, "a\nb").unwrap_err().contains("einzeilig"));
        assert!(clean(Kind::Name, "a\tb").unwrap_err().contains("Tabulator"));
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(clean(Kind::Email, "nul\0byte@example.org")
            .unwrap_err()
            .contains("Nullzeichen"));
        assert!(clean(Kind::Note, "x\u{1b}[31m")
            .unwrap_err()
            .contains("U+001B"));
        assert!(clean(Kind::Note, "x\u{7f}").is_err());
        assert!(clean(Kind::Note, "x\u{85}").is_err());
        // A form field with invalid UTF-8 arrives with replacement characters.
        let lossy = String::from_utf8_lossy(b"a\xED\xA0\x80b");
        assert!(clean(Kind::Name, &lossy).unwrap_err().contains("UTF-8"));
        assert!(clean(Kind::Name, "x\u{FFFF}")
            .unwrap_err()
            .contains("U+FFFF"));
        assert!(clean(Kind::Name, "x\u{FDD0}").is_err());
        assert!(clean(Kind::Name, "x\u{10FFFE}").is_err());
        assert_eq!(
            clean(Kind::Name, "\u{FFFC}\u{1F600}").unwrap(),
            "\u{FFFC}\u{1F600}"
        );
    }

    #[test]
    fn lengths_per_kind() {
        assert!(clean(Kind::Name, &"ä".repeat(200)).is_ok());
        let err = clean(Kind::Name, &"a".repeat(2700)).unwrap_err();
        assert_eq!(
            err,
            "Höchstens 200 Zeichen sind erlaubt, eingegeben wurden 2.700."
        );
        assert!(clean(Kind::Note, &"a".repeat(4000)).is_ok());
        assert!(clean(Kind::Note, &"a".repeat(4001)).is_err());
        assert!(clean(Kind::Url, &"a".repeat(2049)).is_err());
        assert!(clean(Kind::Email, &"a".repeat(255)).is_err());
    }

    #[test]
    fn secrets_keep_their_bytes() {
        assert_eq!(clean(Kind::Secret, "a\u{0308}").unwrap(), "a\u{0308}");
        assert!(clean(Kind::Secret, "a\0").is_err());
    }

    #[test]
    fn json_values_are_walked_with_paths() {
        let mut check = TextCheck::default();
        let mut v = serde_json::json!({ "a": ["ok", "bad\u{0}"], "k\u{1}": 1 });
        check.json("parameters", Kind::Note, &mut v);
        let fields: Vec<String> = check
            .problems
            .into_inner()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, vec!["parameters.a[1]", "parameters.k\u{fffd}"]);
    }
}
