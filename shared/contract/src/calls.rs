//! Every command and query as a Rust type, named once.
//!
//! Each service declares its calls with [`calls!`]: one line per call gives its kind, its
//! name on the bus, its body type and its answer type. From that one list come the enum the
//! service's handler matches on (no second list of names), the decoder, and the
//! [`Operation`]s from which the AsyncAPI document and the JSON Schemas are generated. A body
//! type refuses unknown fields (`#[serde(deny_unknown_fields)]`) and carries its bounds in its
//! field types ([`crate::types`]).
//!
//! On the wire every body also has `"version": 1` ([`CALL_VERSION`]); the services check it
//! before the body is read, so the body types do not repeat it.

use schemars::{JsonSchema, Schema, SchemaGenerator, generate::SchemaSettings};
use serde::de::DeserializeOwned;

pub use crate::bus::CallKind;
use crate::bus::Service;

/// The schema version of every call body this contract describes.
pub const CALL_VERSION: u32 = 1;

/// One command or query of one service, as the contract publishes it.
#[derive(Clone, Copy)]
pub struct Operation {
    pub service: Service,
    pub kind: CallKind,
    /// Its name on the bus: the last token of `govshare.{cmd|qry}.<service>.<org>.<name>`.
    pub name: &'static str,
    /// What it does, from the doc comment on its line in [`calls!`].
    pub doc: &'static str,
    /// The body's schema (without `version`) and the result's.
    pub body: fn() -> Schema,
    pub answer: fn() -> Schema,
    /// The Rust type names, for the message names in the generated documents.
    pub body_type: &'static str,
    pub answer_type: &'static str,
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:?}.{}", self.service.name(), self.kind, self.name)
    }
}

impl Operation {
    /// The body's schema as it travels: the body type's, plus the required `version`.
    pub fn wire_schema(&self) -> Schema {
        let mut schema = (self.body)();
        let object = schema.ensure_object();
        let properties = object.entry("properties").or_insert_with(|| serde_json::json!({}));
        if let Some(p) = properties.as_object_mut() {
            p.insert(
                "version".into(),
                serde_json::json!({"const": CALL_VERSION, "description": "schema version of the call body"}),
            );
        }
        let required = object.entry("required").or_insert_with(|| serde_json::json!([]));
        if let Some(r) = required.as_array_mut() {
            r.insert(0, "version".into());
        }
        schema
    }

    /// The answer's `result` schema, standing alone.
    pub fn answer_schema(&self) -> Schema {
        (self.answer)()
    }
}

/// The generator every contract schema is made with (JSON Schema 2020-12, `$defs`).
pub fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12().into_generator()
}

/// A standalone schema for `T` (with its `$defs`).
pub fn schema_for<T: JsonSchema>() -> Schema {
    generator().into_root_schema_for::<T>()
}

/// Why a call body did not become a typed call.
#[derive(Debug)]
pub enum DecodeError {
    /// No call of this kind and name in this service.
    Unknown,
    /// The body does not read as the call's type: where, and why.
    Body { path: String, message: String },
}

/// The calls of one service: decoded once, matched on once.
pub trait CallSet: Sized {
    const SERVICE: Service;
    /// Every operation, in the order the service declares them.
    fn operations() -> Vec<Operation>;
    /// Does this set have the call `kind`/`name`? (A service with several aggregates, each
    /// with its own set, routes a call to the set that has it.)
    fn knows(kind: CallKind, name: &str) -> bool {
        Self::operations().iter().any(|op| op.kind == kind && op.name == name)
    }
    /// Reads a body (without `version`) as the call `kind`/`name`.
    fn decode(kind: CallKind, name: &str, body: serde_json::Value) -> Result<Self, DecodeError>;
}

/// Reads `body` as `T`, naming where it failed (`items[2].sensitivity`).
pub fn decode_body<T: DeserializeOwned>(body: serde_json::Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(body).map_err(|e| DecodeError::Body {
        path: e.path().to_string().trim_start_matches('.').replace(".[", "["),
        message: e.into_inner().to_string(),
    })
}

/// Declares a service's calls. Each line: doc comments, `command` or `query`, the name on the
/// bus, the enum variant with its body type, and the answer's type:
///
/// ```ignore
/// govshare_contract::calls! {
///     /// The calls of the catalog.
///     pub enum CatalogCall for Service::Catalog {
///         /// Registers a department or an authority.
///         command "register_organisation" => RegisterOrganisation(RegisterOrganisation) -> OrgAnswer,
///         query "get_organisation" => GetOrganisation(GetOrganisation) -> Organisation,
///     }
/// }
/// ```
#[macro_export]
macro_rules! calls {
    (
        $(#[$meta:meta])*
        pub enum $Enum:ident for $service:path {
            $(
                $(#[doc = $doc:literal])*
                $kind:ident $name:literal => $Variant:ident($Body:ty) -> $Answer:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub enum $Enum {
            $( $(#[doc = $doc])* $Variant($Body), )*
        }

        impl $crate::calls::CallSet for $Enum {
            const SERVICE: $crate::bus::Service = $service;

            fn operations() -> Vec<$crate::calls::Operation> {
                vec![$(
                    $crate::calls::Operation {
                        service: $service,
                        kind: $crate::calls!(@kind $kind),
                        name: $name,
                        doc: concat!($($doc, "\n",)*),
                        body: $crate::calls::schema_for::<$Body>,
                        answer: $crate::calls::schema_for::<$Answer>,
                        body_type: stringify!($Body),
                        answer_type: stringify!($Answer),
                    },
                )*]
            }

            #[allow(unused_variables)]
            fn decode(
                kind: $crate::calls::CallKind,
                name: &str,
                body: serde_json::Value,
            ) -> Result<Self, $crate::calls::DecodeError> {
                $(
                    if kind == $crate::calls!(@kind $kind) && name == $name {
                        return $crate::calls::decode_body::<$Body>(body).map(Self::$Variant);
                    }
                )*
                Err($crate::calls::DecodeError::Unknown)
            }
        }
    };
    (@kind command) => { $crate::calls::CallKind::Command };
    (@kind query) => { $crate::calls::CallKind::Query };
}

/// A call body with no fields (`{"version": 1}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{OrgId, Text};

    #[derive(Debug, serde::Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    pub struct Greet {
        pub to: OrgId,
        pub words: Text<5>,
    }

    #[derive(Debug, serde::Serialize, JsonSchema)]
    pub struct Greeted {
        pub ok: bool,
    }

    crate::calls! {
        /// Test calls.
        #[allow(dead_code)]
        pub enum TestCall for Service::Notify {
            /// Says hello.
            command "greet" => Greet(Greet) -> Greeted,
            query "nothing" => Nothing(Empty) -> Greeted,
        }
    }

    #[test]
    fn one_list_gives_the_decoder_and_the_operations() {
        let ops = TestCall::operations();
        assert_eq!(ops.len(), 2);
        assert_eq!((ops[0].name, ops[0].kind, ops[0].doc.trim()), ("greet", CallKind::Command, "Says hello."));
        let body = serde_json::json!({"to": "dept-a", "words": "hi"});
        assert!(matches!(TestCall::decode(CallKind::Command, "greet", body.clone()), Ok(TestCall::Greet(_))));
        assert!(matches!(TestCall::decode(CallKind::Query, "greet", body), Err(DecodeError::Unknown)));
        let bad = serde_json::json!({"to": "dept-a", "words": "toolong"});
        let Err(DecodeError::Body { path, .. }) = TestCall::decode(CallKind::Command, "greet", bad) else { panic!() };
        assert_eq!(path, "words");
    }

    #[test]
    fn the_wire_schema_requires_the_version_and_refuses_unknown_fields() {
        let schema = TestCall::operations()[0].wire_schema().to_value();
        assert_eq!(schema["required"][0], "version");
        assert_eq!(schema["properties"]["version"]["const"], 1);
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["properties"]["words"]["maxLength"], 5);
        assert_eq!(schema["properties"]["to"]["$ref"], "#/$defs/OrgId");
        assert_eq!(schema["$defs"]["OrgId"]["pattern"], OrgId::PATTERN);
    }
}
