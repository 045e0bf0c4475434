//! The two shapes every API type takes, written once.
//!
//! `model_struct!` declares an object whose known fields are all optional and whose unknown fields
//! (and explicit `null`s of known fields) are kept in `extra`, with hand-written serde impls: a
//! `visit_map` that matches keys directly, instead of `#[serde(flatten)]`, which buffers every
//! object into an intermediate tree and halves serde_json's speed.
//!
//! `open_enum!` declares a forward-compatible string enum: known variants plus `Unknown(String)`.

macro_rules! model_struct {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                pub $field:ident : $ty:ty = $json:literal
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                #[doc = ""]
                #[doc = concat!("JSON name: `", $json, "`.")]
                pub $field: Option<$ty>,
            )*
            /// Fields this version does not know, and explicit `null`s of known fields, kept so that
            /// a re-encode gives back what was received.
            pub extra: $crate::Map<String, $crate::Value>,
        }

        impl $name {
            /// The JSON names of the known fields, in declaration order.
            pub const FIELDS: &'static [&'static str] = &[$($json),*];

            fn is_shadowed(&self, key: &str) -> bool {
                match key {
                    $( $json => self.$field.is_some(), )*
                    _ => false,
                }
            }
        }

        impl $crate::wire::Field for $name {
            type Wire = Self;
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap as _;
                let known = 0 $( + usize::from(self.$field.is_some()) )*;
                let kept = self.extra.keys().filter(|key| !self.is_shadowed(key)).count();
                let mut map = serializer.serialize_map(Some(known + kept))?;
                $(
                    if let Some(value) = &self.$field {
                        map.serialize_entry($json, value)?;
                    }
                )*
                for (key, value) in &self.extra {
                    if !self.is_shadowed(key) {
                        map.serialize_entry(key, value)?;
                    }
                }
                map.end()
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ObjectVisitor;

                impl<'de> ::serde::de::Visitor<'de> for ObjectVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(concat!("a JSON object (", stringify!($name), ")"))
                    }

                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$name, A::Error> {
                        let mut out = $name::default();
                        'entries: while let Some(key) = map.next_key::<$crate::wire::Key<'de>>()? {
                            let name = key.as_bytes();
                            $(
                                if name == $json.as_bytes() {
                                    match map.next_value::<Option<<$ty as $crate::wire::Field>::Wire>>() {
                                        Ok(Some(value)) => out.$field = Some(value.into()),
                                        Ok(None) => {
                                            out.$field = None;
                                            out.extra.insert(String::from($json), $crate::Value::Null);
                                        }
                                        Err(error) => return Err($crate::path::at_key($json, error)),
                                    }
                                    continue 'entries;
                                }
                            )*
                            let name = key.to_text()?;
                            match map.next_value::<$crate::Value>() {
                                Ok(value) => {
                                    out.extra.insert(name, value);
                                }
                                Err(error) => return Err($crate::path::at_key(&name, error)),
                            }
                        }
                        Ok(out)
                    }
                }

                deserializer.deserialize_map(ObjectVisitor)
            }
        }

        #[cfg(feature = "schema")]
        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }

            fn json_schema(generator: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                let mut properties = $crate::Map::new();
                $(
                    properties.insert(
                        String::from($json),
                        $crate::schema::property::<$ty>(generator, &[$($fdoc),*]),
                    );
                )*
                $crate::schema::object(&[$($doc),*], properties)
            }
        }
    };
}

macro_rules! open_enum {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident {
            $(
                $(#[doc = $vdoc:literal])*
                $variant:ident = $text:literal
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        ///
        /// Forward compatible: a value this version does not know decodes to `Unknown` and
        /// re-encodes to the same text.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                $(#[doc = $vdoc])*
                #[doc = concat!("Wire text: `", $text, "`.")]
                $variant,
            )*
            /// A value this version does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every known value, in the order the API documents them.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),*];

            /// The wire text of this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Unknown(text) => text,
                }
            }

            /// True for a value this version does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::Unknown(_))
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $( $text => $name::$variant, )*
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $( $text => $name::$variant, )*
                    _ => $name::Unknown(text),
                }
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = ::core::convert::Infallible;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Ok($name::from(text))
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::wire::Field for $name {
            type Wire = Self;
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct TextVisitor;

                impl ::serde::de::Visitor<'_> for TextVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(concat!("a string (", stringify!($name), ")"))
                    }

                    fn visit_str<E: ::serde::de::Error>(self, text: &str) -> Result<$name, E> {
                        Ok($name::from(text))
                    }

                    fn visit_string<E: ::serde::de::Error>(self, text: String) -> Result<$name, E> {
                        Ok($name::from(text))
                    }
                }

                deserializer.deserialize_str(TextVisitor)
            }
        }

        #[cfg(feature = "schema")]
        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                $crate::schema::open_enum(&[$($doc),*], &[$($text),*])
            }
        }
    };
}
