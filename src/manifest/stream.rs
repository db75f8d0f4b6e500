//! The fast reading of a manifest: a serde deserializer over the streamed events of
//! [`block`](super::block), so a manifest of 100,000 entries is read without first loading
//! every event of the document (serde_yaml 0.9 keeps them all in memory).
//!
//! It reproduces serde_yaml's reading of the documents the scanner accepts, method by method
//! (how plain scalars are typed, what `deserialize_option` calls null, empty values read as
//! empty collections), with the scalar rules ported from serde_yaml's `de.rs`. It has no error
//! messages: any error, its own or one of the manifest's checks, only means "read it with
//! serde_yaml", which then gives the answer and the message with its line and column. So a
//! result from here is always the result serde_yaml would give, and the differential tests in
//! `tests_stream.rs` check exactly that.

use std::fmt;

use serde::de::{self, DeserializeSeed, Visitor};

use super::block::{Decline, Event, Scanner};
use super::typing::{
    parse_bool, parse_f64, parse_null, parse_signed_int, parse_unsigned_int, visit_untagged_scalar,
};

/// Deserializes `text` if the fast reading can; `None` means "use serde_yaml" (the document
/// is outside the subset, or it has an error of any kind).
pub(super) fn from_str<'de, T: de::Deserialize<'de>>(text: &'de str) -> Option<T> {
    let mut stream = Stream {
        scanner: Scanner::new(text)?,
        peeked: None,
        depth: 0,
    };
    let value = T::deserialize(&mut stream).ok()?;
    // The whole document was read, and nothing follows it.
    match stream.next() {
        Err(Stop) => Some(value),
        Ok(_) => None,
    }
}

/// Why the fast reading stopped: anything at all (the caller reads the file again).
#[derive(Debug)]
pub(super) struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("read with the full YAML parser")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl From<Decline> for Stop {
    fn from(_: Decline) -> Self {
        Stop
    }
}

type Result<T> = std::result::Result<T, Stop>;

/// Nesting accepted before stopping (serde_yaml's limit is 128; a manifest needs 4).
const MAX_DEPTH: usize = 64;

struct Stream<'de> {
    scanner: Scanner<'de>,
    peeked: Option<Event<'de>>,
    depth: usize,
}

impl<'de> Stream<'de> {
    /// The next event; the end of the document is an error here (`Stop`).
    fn next(&mut self) -> Result<Event<'de>> {
        match self.peeked.take() {
            Some(event) => Ok(event),
            None => self.scanner.next_event()?.ok_or(Stop),
        }
    }

    fn peek(&mut self) -> Result<Event<'de>> {
        let event = self.next()?;
        self.peeked = Some(event);
        Ok(event)
    }

    /// After `MappingStart` or `SequenceStart`: lets the visitor read the collection, which
    /// must then be at its end (serde_yaml fails when a visitor leaves entries unread).
    fn collection<V: Visitor<'de>>(&mut self, visitor: V, mapping: bool) -> Result<V::Value> {
        if self.depth >= MAX_DEPTH {
            return Err(Stop);
        }
        self.depth += 1;
        let value = if mapping {
            visitor.visit_map(Access {
                de: self,
                empty: false,
            })?
        } else {
            visitor.visit_seq(Access {
                de: self,
                empty: false,
            })?
        };
        self.depth -= 1;
        match (self.next()?, mapping) {
            (Event::MappingEnd, true) | (Event::SequenceEnd, false) => Ok(value),
            _ => Err(Stop),
        }
    }

    /// Skips one node.
    fn skip(&mut self) -> Result<()> {
        let mut open = 0usize;
        loop {
            match self.next()? {
                Event::MappingStart | Event::SequenceStart => open += 1,
                Event::MappingEnd | Event::SequenceEnd => open = open.checked_sub(1).ok_or(Stop)?,
                Event::Scalar(..) => {}
            }
            if open == 0 {
                return Ok(());
            }
        }
    }

    /// The next event when it is a plain scalar, else `Stop`.
    fn plain(&mut self) -> Result<&'de str> {
        match self.next()? {
            Event::Scalar(v, true) => Ok(v),
            _ => Err(Stop),
        }
    }

    /// Plain `''` (nothing written): read as an empty sequence or mapping, as serde_yaml does.
    fn empty<V: Visitor<'de>>(&mut self, visitor: V, mapping: bool) -> Result<V::Value> {
        match self.next()? {
            Event::MappingStart if mapping => self.collection(visitor, true),
            Event::SequenceStart if !mapping => self.collection(visitor, false),
            Event::Scalar("", true) => {
                let access = Access {
                    de: self,
                    empty: true,
                };
                if mapping {
                    visitor.visit_map(access)
                } else {
                    visitor.visit_seq(access)
                }
            }
            _ => Err(Stop),
        }
    }
}

/// The entries of a mapping or the items of a sequence; `empty` for a collection written as
/// nothing at all.
struct Access<'a, 'de> {
    de: &'a mut Stream<'de>,
    empty: bool,
}

impl<'de> de::SeqAccess<'de> for Access<'_, 'de> {
    type Error = Stop;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.empty || self.de.peek()? == Event::SequenceEnd {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

impl<'de> de::MapAccess<'de> for Access<'_, 'de> {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.empty || self.de.peek()? == Event::MappingEnd {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

/// A unit variant written as a scalar (`Kind::Auto` from `auto`).
struct UnitVariant<'a, 'de> {
    de: &'a mut Stream<'de>,
}

impl<'de> de::EnumAccess<'de> for UnitVariant<'_, 'de> {
    type Error = Stop;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        Ok((seed.deserialize(&mut *self.de)?, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'_, 'de> {
    type Error = Stop;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value> {
        Err(Stop)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value> {
        Err(Stop)
    }

    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], _: V) -> Result<V::Value> {
        Err(Stop)
    }
}

/// Integer and float methods: a plain scalar that `parse` reads, else `Stop` (serde_yaml
/// fails there too, with a message the full reading gives).
macro_rules! number {
    ($method:ident, $visit:ident, $parse:expr) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            let v = self.plain()?;
            match $parse(v) {
                Some(n) => visitor.$visit(n),
                None => Err(Stop),
            }
        }
    };
}

impl<'de> de::Deserializer<'de> for &mut Stream<'de> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.next()? {
            Event::Scalar(v, true) => visit_untagged_scalar(visitor, v),
            Event::Scalar(v, false) => visitor.visit_borrowed_str(v),
            Event::MappingStart => self.collection(visitor, true),
            Event::SequenceStart => self.collection(visitor, false),
            Event::MappingEnd | Event::SequenceEnd => Err(Stop),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match parse_bool(self.plain()?) {
            Some(b) => visitor.visit_bool(b),
            None => Err(Stop),
        }
    }

    number!(deserialize_i8, visit_i64, |v| parse_signed_int(
        v,
        i64::from_str_radix
    ));
    number!(deserialize_i16, visit_i64, |v| parse_signed_int(
        v,
        i64::from_str_radix
    ));
    number!(deserialize_i32, visit_i64, |v| parse_signed_int(
        v,
        i64::from_str_radix
    ));
    number!(deserialize_i64, visit_i64, |v| parse_signed_int(
        v,
        i64::from_str_radix
    ));
    number!(deserialize_i128, visit_i128, |v| parse_signed_int(
        v,
        i128::from_str_radix
    ));
    number!(deserialize_u8, visit_u64, |v| parse_unsigned_int(
        v,
        u64::from_str_radix
    ));
    number!(deserialize_u16, visit_u64, |v| parse_unsigned_int(
        v,
        u64::from_str_radix
    ));
    number!(deserialize_u32, visit_u64, |v| parse_unsigned_int(
        v,
        u64::from_str_radix
    ));
    number!(deserialize_u64, visit_u64, |v| parse_unsigned_int(
        v,
        u64::from_str_radix
    ));
    number!(deserialize_u128, visit_u128, |v| parse_unsigned_int(
        v,
        u128::from_str_radix
    ));
    number!(deserialize_f32, visit_f64, parse_f64);
    number!(deserialize_f64, visit_f64, parse_f64);

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    /// Any scalar's text, plain or quoted, never re-typed (serde_yaml's `deserialize_str`).
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.next()? {
            Event::Scalar(v, _) => visitor.visit_borrowed_str(v),
            _ => Err(Stop),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(Stop)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(Stop)
    }

    /// Plain null (`~`, `null`, `Null`, `NULL`, nothing) is `None`; anything else, quoted
    /// `'null'` included, is `Some`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            Event::Scalar(v, true) if v.is_empty() || parse_null(v) => {
                self.next()?;
                visitor.visit_none()
            }
            Event::MappingEnd | Event::SequenceEnd => Err(Stop),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let v = self.plain()?;
        if v.is_empty() || parse_null(v) {
            visitor.visit_unit()
        } else {
            Err(Stop)
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.empty(visitor, false)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.empty(visitor, true)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    /// Only a unit variant written as a scalar; everything else is left to serde_yaml.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.peek()? {
            Event::Scalar(..) => visitor.visit_enum(UnitVariant { de: self }),
            _ => Err(Stop),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }
}
