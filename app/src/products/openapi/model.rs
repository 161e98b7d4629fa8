//! What a reference page shows of an OpenAPI document, resolved and ready to render.
//! Descriptions are sanitised HTML (CommonMark without raw HTML); examples are pretty JSON.

/// An index into [`Reference::schemas`].
pub type SchemaId = usize;

pub struct Reference {
    pub title: String,
    pub version: String,
    /// `info.summary`, or the first sentence of `info.description`.
    pub summary: Option<String>,
    pub description: Option<String>,
    /// `3.0.3`, `3.1.0`, …
    pub openapi: String,
    pub operations: Vec<Operation>,
    /// In the document's order (its `tags` list first, then as operations name them).
    pub tags: Vec<Tag>,
    /// 3.1 `webhooks`: requests the API sends, not receives.
    pub webhooks: Vec<Operation>,
    /// Every schema node; named ones (`components/schemas`) are listed in `models`.
    pub schemas: Vec<Schema>,
    pub models: Vec<SchemaId>,
    /// One page per tag: a single page would be too heavy for a browser.
    pub split: bool,
}

/// References with more operations than this get one page per tag.
pub const SPLIT_ABOVE_OPERATIONS: usize = 40;

pub struct Tag {
    pub name: String,
    /// In URLs: `/docs/<product>/tags/<slug>`.
    pub slug: String,
    pub description: Option<String>,
    /// Indexes into [`Reference::operations`].
    pub operations: Vec<usize>,
}

pub struct Operation {
    /// Stable, from `operationId` when there is one: `#list-pets`.
    pub anchor: String,
    /// Upper case: `GET`.
    pub method: String,
    /// The path template: `/pets/{petId}`.
    pub path: String,
    pub operation_id: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    /// The slug of the tag it is listed under.
    pub tag: String,
    pub deprecated: bool,
    /// Set by the operator (`[[products.sunsets]]`): the last day it answers, `YYYY-MM-DD`.
    pub sunset: Option<String>,
    pub parameters: Vec<Parameter>,
    pub request_body: Option<RequestBody>,
    pub responses: Vec<ResponseDoc>,
    /// Lower-case text searched by `?q=`.
    pub search_text: String,
}

impl Reference {
    /// Where `op` is shown in the docs of the product `slug`.
    pub fn operation_href(&self, slug: &str, op: &Operation) -> String {
        if self.split { format!("/docs/{slug}/tags/{}#{}", op.tag, op.anchor) } else { format!("/docs/{slug}#{}", op.anchor) }
    }
}

impl Operation {
    pub fn title(&self) -> String {
        self.summary.clone().or_else(|| self.operation_id.clone()).unwrap_or_else(|| format!("{} {}", self.method, self.path))
    }

    /// The request body's example for the first media type that has one (what try-it prefills).
    pub fn body_example(&self) -> Option<(&str, &str)> {
        let body = self.request_body.as_ref()?;
        body.contents.iter().find_map(|c| c.example.as_deref().map(|e| (c.media_type.as_str(), e)))
    }
}

#[derive(Clone)]
pub struct Parameter {
    pub name: String,
    /// path, query, header or cookie
    pub location: String,
    pub required: bool,
    pub deprecated: bool,
    pub description: Option<String>,
    pub schema: Option<SchemaId>,
    pub example: Option<String>,
}

pub struct RequestBody {
    pub description: Option<String>,
    pub required: bool,
    pub contents: Vec<Content>,
}

pub struct Content {
    pub media_type: String,
    pub schema: Option<SchemaId>,
    pub example: Option<String>,
}

pub struct ResponseDoc {
    /// `200`, `4XX`, `default`
    pub status: String,
    pub description: Option<String>,
    pub headers: Vec<Parameter>,
    pub contents: Vec<Content>,
}

#[derive(Default, Clone)]
pub struct Schema {
    /// Its name in `components/schemas`, which also gives it an anchor on the models list.
    pub name: Option<String>,
    pub title: Option<String>,
    /// `string`, `object`, …, and `null` for 3.0 `nullable` or a 3.1 type array.
    pub types: Vec<String>,
    pub format: Option<String>,
    pub description: Option<String>,
    pub enum_values: Vec<serde_json::Value>,
    pub const_value: Option<serde_json::Value>,
    pub default: Option<serde_json::Value>,
    pub example: Option<serde_json::Value>,
    pub read_only: bool,
    pub write_only: bool,
    pub deprecated: bool,
    pub properties: Vec<Property>,
    /// `additionalProperties`: a schema, or `Some(None)` for "any value".
    pub additional: Option<Option<SchemaId>>,
    pub items: Option<SchemaId>,
    pub all_of: Vec<SchemaId>,
    pub one_of: Vec<SchemaId>,
    pub any_of: Vec<SchemaId>,
    pub not: Option<SchemaId>,
    pub discriminator: Option<Discriminator>,
    /// Limits in words: `≥ 1`, `at most 20 characters`, `pattern ^[a-z]+$`, …
    pub constraints: Vec<String>,
    /// A boolean schema: `true` takes anything, `false` nothing.
    pub boolean: Option<bool>,
}

impl Schema {
    /// Built from other schemas (`allOf`, `oneOf`, `anyOf`).
    pub fn is_composite(&self) -> bool {
        !self.all_of.is_empty() || !self.one_of.is_empty() || !self.any_of.is_empty()
    }
}

#[derive(Clone)]
pub struct Property {
    pub name: String,
    pub schema: SchemaId,
    pub required: bool,
}

#[derive(Clone)]
pub struct Discriminator {
    pub property: String,
    /// Value → schema name.
    pub mapping: Vec<(String, String)>,
}

/// `list-pets`: lower case letters, digits and dashes.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "x".into() } else { out }
}
