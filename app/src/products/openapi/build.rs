//! From [`Documents`] to a [`Reference`]: checks the document as it goes and stops at the first
//! problem with its file and line.

use std::collections::HashMap;

use serde_json::Value;

use super::example::{Direction, example};
use super::model::*;
use super::{Documents, Location};
use crate::config::ConfigProblem;
use crate::markdown;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const LOCATIONS: [&str; 4] = ["path", "query", "header", "cookie"];

type Result<T> = std::result::Result<T, ConfigProblem>;

struct Builder<'a> {
    docs: &'a Documents,
    schemas: Vec<Schema>,
    schema_at: HashMap<Location, SchemaId>,
}

pub fn build(docs: &Documents) -> Result<Reference> {
    let root = Location { file: 0, pointer: String::new() };
    let doc = &docs.main().value;
    if !doc.is_object() {
        return Err(docs.problem(&root, "an OpenAPI document must be a mapping (`openapi:`, `info:`, `paths:`, …)"));
    }
    let openapi = match doc.get("openapi") {
        Some(Value::String(v)) if v.starts_with("3.0") || v.starts_with("3.1") => v.clone(),
        Some(other) => {
            let shown = other.as_str().map(str::to_string).unwrap_or_else(|| other.to_string());
            return Err(docs.problem(
                &root.child("openapi"),
                format!("`openapi: {shown}`: Mast reads OpenAPI 3.0 and 3.1 (write the version as a quoted string, e.g. \"3.1.0\")"),
            ));
        }
        None if doc.get("swagger").is_some() => {
            return Err(docs.problem(
                &root.child("swagger"),
                "this is a Swagger 2.0 document: Mast reads OpenAPI 3.0 and 3.1 (convert it, e.g. with swagger2openapi)",
            ));
        }
        None => return Err(docs.problem(&root, "`openapi:` is missing: Mast reads OpenAPI 3.0 and 3.1")),
    };
    let info = root.child("info");
    let text_at = |at: &Location, key: &str| -> Result<Option<String>> {
        match docs.value(at).and_then(|v| v.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(docs.problem(&at.child(key), format!("`{key}` must be text"))),
        }
    };
    if !docs.value(&info).is_some_and(Value::is_object) {
        return Err(docs.problem(&info, "`info:` is missing: it holds the API's title and version"));
    }
    let title = text_at(&info, "title")?.ok_or_else(|| docs.problem(&info, "`info.title` is missing"))?;
    let version = match docs.value(&info.child("version")) {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(docs.problem(&info, "`info.version` is missing")),
    };
    let description_md = text_at(&info, "description")?;
    let summary = text_at(&info, "summary")?.or_else(|| description_md.as_deref().map(first_sentence));

    let mut builder = Builder { docs, schemas: Vec::new(), schema_at: HashMap::new() };
    let mut tags: Vec<Tag> = Vec::new();
    if let Some(list) = doc.get("tags") {
        let list = list.as_array().ok_or_else(|| docs.problem(&root.child("tags"), "`tags` must be a list"))?;
        for (i, tag) in list.iter().enumerate() {
            let at = root.child("tags").child(&i.to_string());
            let name = tag.get("name").and_then(Value::as_str).ok_or_else(|| docs.problem(&at, "a tag needs a `name`"))?;
            let description = text_at(&at, "description")?.map(|d| markdown::to_html(&d));
            push_tag(&mut tags, name, description);
        }
    }

    let mut operations = Vec::new();
    match doc.get("paths") {
        Some(Value::Object(paths)) => {
            for (path, _) in paths {
                let at = root.child("paths").child(path);
                if !path.starts_with('/') {
                    return Err(docs.problem(&at, format!("the path `{path}` must start with /")));
                }
                builder.path_item(&at, path, &mut operations, &mut tags)?;
            }
        }
        Some(Value::Null) | None if openapi.starts_with("3.1") => {}
        Some(_) => return Err(docs.problem(&root.child("paths"), "`paths` must be a mapping of paths to their operations")),
        None => return Err(docs.problem(&root, "`paths:` is missing")),
    }
    let mut webhooks = Vec::new();
    if let Some(hooks) = doc.get("webhooks") {
        let hooks = hooks.as_object().ok_or_else(|| docs.problem(&root.child("webhooks"), "`webhooks` must be a mapping"))?;
        let mut no_tags = Vec::new();
        for (name, _) in hooks {
            builder.path_item(&root.child("webhooks").child(name), name, &mut webhooks, &mut no_tags)?;
        }
        for hook in &mut webhooks {
            hook.anchor = format!("webhook-{}", hook.anchor);
        }
    }
    unique_anchors(&mut operations);
    unique_anchors(&mut webhooks);
    // Only tags that hold operations are listed.
    tags.retain(|t| !t.operations.is_empty());

    let mut models = Vec::new();
    if let Some(Value::Object(named)) = doc.pointer("/components/schemas") {
        for (name, _) in named {
            models.push(builder.schema(root.child("components").child("schemas").child(name))?);
        }
    }
    let split = operations.len() > SPLIT_ABOVE_OPERATIONS && tags.len() > 1;
    Ok(Reference {
        title,
        version,
        summary,
        description: description_md.map(|d| markdown::to_html(&d)),
        openapi,
        operations,
        tags,
        webhooks,
        schemas: builder.schemas,
        models,
        split,
    })
}

fn push_tag(tags: &mut Vec<Tag>, name: &str, description: Option<String>) -> usize {
    if let Some(i) = tags.iter().position(|t| t.name == name) {
        return i;
    }
    let mut slug = slugify(name);
    while tags.iter().any(|t| t.slug == slug) {
        slug.push('-');
        slug.push('2');
    }
    tags.push(Tag { name: name.to_string(), slug, description, operations: Vec::new() });
    tags.len() - 1
}

fn unique_anchors(operations: &mut [Operation]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for op in operations {
        let n = seen.entry(op.anchor.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            op.anchor = format!("{}-{}", op.anchor, n);
        }
    }
}

fn first_sentence(text: &str) -> String {
    let plain = markdown::plain_text(text.lines().next().unwrap_or(""));
    match plain.find(". ") {
        Some(end) => plain[..=end].to_string(),
        None => plain,
    }
}

impl Builder<'_> {
    fn problem(&self, at: &Location, reason: impl Into<String>) -> ConfigProblem {
        self.docs.problem(at, reason)
    }

    fn text(&self, at: &Location, key: &str) -> Result<Option<String>> {
        match self.docs.value(at).and_then(|v| v.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.problem(&at.child(key), format!("`{key}` must be text"))),
        }
    }

    fn markdown(&self, at: &Location, key: &str) -> Result<Option<String>> {
        Ok(self.text(at, key)?.filter(|t| !t.trim().is_empty()).map(|t| markdown::to_html(&t)))
    }

    fn flag(&self, at: &Location, key: &str) -> Result<bool> {
        match self.docs.value(at).and_then(|v| v.get(key)) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.problem(&at.child(key), format!("`{key}` must be true or false"))),
        }
    }

    fn mapping(&self, at: &Location, what: &str) -> Result<Vec<String>> {
        match self.docs.value(at) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(map)) => Ok(map.keys().cloned().collect()),
            Some(_) => Err(self.problem(at, format!("{what} must be a mapping"))),
        }
    }

    fn list_len(&self, at: &Location, what: &str) -> Result<usize> {
        match self.docs.value(at) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Array(items)) => Ok(items.len()),
            Some(_) => Err(self.problem(at, format!("{what} must be a list"))),
        }
    }

    fn path_item(&mut self, at: &Location, path: &str, out: &mut Vec<Operation>, tags: &mut Vec<Tag>) -> Result<()> {
        let item = self.docs.follow(at.clone())?;
        if !self.docs.value(&item).is_some_and(Value::is_object) {
            return Err(self.problem(at, format!("`{path}` must be a mapping of methods to operations")));
        }
        let shared = self.parameters(&item.child("parameters"))?;
        for key in self.mapping(&item, "a path item")? {
            if !METHODS.contains(&key.as_str()) {
                continue;
            }
            let op_at = item.child(&key);
            let mut op = self.operation(&op_at, &key, path, &shared)?;
            let tag_name = match self.docs.value(&op_at.child("tags")).and_then(|t| t.get(0)).and_then(Value::as_str) {
                Some(name) => name.to_string(),
                None => "Other".to_string(),
            };
            let index = push_tag(tags, &tag_name, None);
            // Listed under its first tag.
            op.tag = tags[index].slug.clone();
            op.search_text.push(' ');
            op.search_text.push_str(&tag_name.to_lowercase());
            tags[index].operations.push(out.len());
            out.push(op);
        }
        Ok(())
    }

    fn operation(&mut self, at: &Location, method: &str, path: &str, shared: &[Parameter]) -> Result<Operation> {
        if !self.docs.value(at).is_some_and(Value::is_object) {
            return Err(self.problem(at, format!("`{method}` of `{path}` must be a mapping")));
        }
        let operation_id = self.text(at, "operationId")?;
        let summary = self.text(at, "summary")?;
        let description_md = self.text(at, "description")?;
        let mut parameters = self.parameters(&at.child("parameters"))?;
        // Path-level parameters apply unless the operation redefines them.
        for p in shared {
            if !parameters.iter().any(|q| q.name == p.name && q.location == p.location) {
                parameters.insert(0, p.clone());
            }
        }
        for p in parameters.iter().filter(|p| p.location == "path") {
            if !path.contains(&format!("{{{}}}", p.name)) {
                return Err(self.problem(at, format!("the path parameter `{}` is not in the path `{path}`", p.name)));
            }
        }
        let request_body = match self.docs.value(&at.child("requestBody")) {
            None | Some(Value::Null) => None,
            Some(_) => Some(self.request_body(&at.child("requestBody"))?),
        };
        let mut responses = Vec::new();
        for status in self.mapping(&at.child("responses"), "`responses`")? {
            if status.starts_with("x-") {
                continue;
            }
            let valid = status == "default"
                || (status.len() == 3 && status.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || (i > 0 && (c == 'X' || c == 'x'))));
            if !valid {
                return Err(self
                    .problem(&at.child("responses").child(&status), format!("`{status}` is not a response status (200, 4XX or default)")));
            }
            responses.push(self.response(&at.child("responses").child(&status), &status)?);
        }
        let anchor = match &operation_id {
            Some(id) => slugify(id),
            None => slugify(&format!("{method} {path}")),
        };
        let search_text = [
            method,
            path,
            operation_id.as_deref().unwrap_or(""),
            summary.as_deref().unwrap_or(""),
            &description_md.as_deref().map(markdown::plain_text).unwrap_or_default(),
        ]
        .join(" ")
        .to_lowercase();
        Ok(Operation {
            anchor,
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            operation_id,
            summary,
            description: description_md.filter(|d| !d.trim().is_empty()).map(|d| markdown::to_html(&d)),
            tag: String::new(),
            deprecated: self.flag(at, "deprecated")?,
            sunset: None,
            parameters,
            request_body,
            responses,
            search_text,
        })
    }

    fn parameters(&mut self, at: &Location) -> Result<Vec<Parameter>> {
        let mut out = Vec::new();
        for i in 0..self.list_len(at, "`parameters`")? {
            let p = self.docs.follow(at.child(&i.to_string()))?;
            let name = self.text(&p, "name")?.ok_or_else(|| self.problem(&p, "a parameter needs a `name`"))?;
            let location = self.text(&p, "in")?.unwrap_or_default();
            if !LOCATIONS.contains(&location.as_str()) {
                return Err(self.problem(&p, format!("the parameter `{name}` needs `in:` path, query, header or cookie")));
            }
            out.push(self.parameter_like(&p, name, location)?);
        }
        Ok(out)
    }

    /// A parameter, or a response header (the same fields without name and `in`).
    fn parameter_like(&mut self, at: &Location, name: String, location: String) -> Result<Parameter> {
        let mut schema = match self.docs.value(&at.child("schema")) {
            Some(_) => Some(self.schema(at.child("schema"))?),
            None => None,
        };
        // `content` instead of `schema`: the first media type's schema.
        if schema.is_none() {
            for media in self.mapping(&at.child("content"), "`content`")? {
                if self.docs.value(&at.child("content").child(&media).child("schema")).is_some() {
                    schema = Some(self.schema(at.child("content").child(&media).child("schema"))?);
                    break;
                }
            }
        }
        let example = self.example_of(at)?.or_else(|| schema.and_then(|s| self.schemas[s].example.clone()));
        Ok(Parameter {
            required: location == "path" || self.flag(at, "required")?,
            deprecated: self.flag(at, "deprecated")?,
            description: self.markdown(at, "description")?,
            name,
            location,
            schema,
            example: example.map(|e| match e {
                Value::String(s) => s,
                other => other.to_string(),
            }),
        })
    }

    /// `example`, or the first of `examples` (Example Objects, possibly `$ref`s).
    fn example_of(&self, at: &Location) -> Result<Option<Value>> {
        if let Some(value) = self.docs.value(&at.child("example")) {
            return Ok(Some(value.clone()));
        }
        if let Some(first) = self.mapping(&at.child("examples"), "`examples`")?.first() {
            let example = self.docs.follow(at.child("examples").child(first))?;
            return Ok(self.docs.value(&example.child("value")).cloned());
        }
        Ok(None)
    }

    fn contents(&mut self, at: &Location, direction: Direction) -> Result<Vec<Content>> {
        let mut out = Vec::new();
        for media_type in self.mapping(at, "`content`")? {
            let media = at.child(&media_type);
            let schema = match self.docs.value(&media.child("schema")) {
                Some(_) => Some(self.schema(media.child("schema"))?),
                None => None,
            };
            let value = match self.example_of(&media)? {
                Some(v) => Some(v),
                None => schema.map(|s| example(&self.schemas, s, direction)),
            };
            let example = value.map(|v| match (&v, media_type.contains("json")) {
                (Value::String(s), false) => s.clone(),
                _ => serde_json::to_string_pretty(&v).unwrap_or_default(),
            });
            out.push(Content { media_type, schema, example });
        }
        Ok(out)
    }

    fn request_body(&mut self, at: &Location) -> Result<RequestBody> {
        let body = self.docs.follow(at.clone())?;
        Ok(RequestBody {
            description: self.markdown(&body, "description")?,
            required: self.flag(&body, "required")?,
            contents: self.contents(&body.child("content"), Direction::Request)?,
        })
    }

    fn response(&mut self, at: &Location, status: &str) -> Result<ResponseDoc> {
        let response = self.docs.follow(at.clone())?;
        if !self.docs.value(&response).is_some_and(Value::is_object) {
            return Err(self.problem(at, format!("the `{status}` response must be a mapping with a `description`")));
        }
        let mut headers = Vec::new();
        for name in self.mapping(&response.child("headers"), "`headers`")? {
            let header = self.docs.follow(response.child("headers").child(&name))?;
            headers.push(self.parameter_like(&header, name, "header".into())?);
        }
        Ok(ResponseDoc {
            status: status.to_uppercase().replace("DEFAULT", "default"),
            description: self.markdown(&response, "description")?,
            headers,
            contents: self.contents(&response.child("content"), Direction::Response)?,
        })
    }

    /// The schema at `at` (after its `$ref`s), built once however often it is referred to.
    fn schema(&mut self, at: Location) -> Result<SchemaId> {
        let at = self.docs.follow(at)?;
        if let Some(id) = self.schema_at.get(&at) {
            return Ok(*id);
        }
        let id = self.schemas.len();
        self.schemas.push(Schema::default());
        self.schema_at.insert(at.clone(), id);
        let schema = self.fill_schema(&at)?;
        self.schemas[id] = schema;
        Ok(id)
    }

    fn fill_schema(&mut self, at: &Location) -> Result<Schema> {
        let value = self.docs.value(at).cloned().unwrap_or(Value::Null);
        // Only the document's own components are models (listed, linked to).
        let name = Some(&at.pointer)
            .filter(|_| at.file == 0)
            .and_then(|p| p.strip_prefix("/components/schemas/"))
            .filter(|rest| !rest.contains('/'))
            .map(|n| n.replace("~1", "/").replace("~0", "~"));
        let mut s = Schema { name, ..Schema::default() };
        let map = match value {
            Value::Bool(b) => {
                s.boolean = Some(b);
                return Ok(s);
            }
            Value::Object(map) => map,
            _ => return Err(self.problem(at, "a schema must be a mapping (or, in 3.1, true or false)")),
        };
        s.title = self.text(at, "title")?;
        s.types = match map.get("type") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
                list.iter().filter_map(Value::as_str).map(String::from).collect()
            }
            Some(_) => return Err(self.problem(&at.child("type"), "`type` must be a type name or (3.1) a list of them")),
        };
        if self.flag(at, "nullable")? && !s.types.iter().any(|t| t == "null") {
            s.types.push("null".into());
        }
        s.format = self.text(at, "format")?;
        s.description = self.markdown(at, "description")?;
        s.enum_values = match map.get("enum") {
            Some(Value::Array(values)) => values.clone(),
            _ => Vec::new(),
        };
        s.const_value = map.get("const").cloned();
        s.default = map.get("default").cloned();
        s.example = match (map.get("example"), map.get("examples")) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(Value::Array(list))) => list.first().cloned(),
            _ => None,
        };
        s.read_only = self.flag(at, "readOnly")?;
        s.write_only = self.flag(at, "writeOnly")?;
        s.deprecated = self.flag(at, "deprecated")?;
        let required: Vec<String> = match map.get("required") {
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).map(String::from).collect(),
            _ => Vec::new(),
        };
        for property in self.mapping(&at.child("properties"), "`properties`")? {
            let schema = self.schema(at.child("properties").child(&property))?;
            s.properties.push(Property { required: required.contains(&property), name: property, schema });
        }
        s.additional = match map.get("additionalProperties") {
            None | Some(Value::Bool(false)) => None,
            Some(Value::Bool(true)) => Some(None),
            Some(_) => Some(Some(self.schema(at.child("additionalProperties"))?)),
        };
        if map.contains_key("items") {
            s.items = Some(self.schema(at.child("items"))?);
        }
        for (key, list) in [("allOf", &mut s.all_of), ("oneOf", &mut s.one_of), ("anyOf", &mut s.any_of)] {
            for i in 0..self.list_len(&at.child(key), &format!("`{key}`"))? {
                list.push(self.schema(at.child(key).child(&i.to_string()))?);
            }
        }
        if map.contains_key("not") {
            s.not = Some(self.schema(at.child("not"))?);
        }
        if let Some(d) = map.get("discriminator") {
            let property = d
                .get("propertyName")
                .and_then(Value::as_str)
                .ok_or_else(|| self.problem(&at.child("discriminator"), "a discriminator needs `propertyName`"))?;
            let mapping = d
                .get("mapping")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").rsplit('/').next().unwrap_or("").to_string())).collect()
                })
                .unwrap_or_default();
            s.discriminator = Some(Discriminator { property: property.to_string(), mapping });
        }
        s.constraints = constraints(&map);
        Ok(s)
    }
}

/// A schema's limits in words.
fn constraints(map: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    let num = |k: &str| map.get(k).filter(|v| v.is_number()).map(Value::to_string);
    let exclusive = |k: &str| map.get(k) == Some(&Value::Bool(true));
    // 3.0: exclusiveMinimum is a flag on minimum; 3.1: a number of its own.
    if let Some(min) = num("minimum") {
        out.push(format!("{} {min}", if exclusive("exclusiveMinimum") { ">" } else { "≥" }));
    }
    if let Some(min) = num("exclusiveMinimum") {
        out.push(format!("> {min}"));
    }
    if let Some(max) = num("maximum") {
        out.push(format!("{} {max}", if exclusive("exclusiveMaximum") { "<" } else { "≤" }));
    }
    if let Some(max) = num("exclusiveMaximum") {
        out.push(format!("< {max}"));
    }
    if let Some(m) = num("multipleOf") {
        out.push(format!("multiple of {m}"));
    }
    for (key, words) in [
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minItems", "at least {} items"),
        ("maxItems", "at most {} items"),
        ("minProperties", "at least {} properties"),
        ("maxProperties", "at most {} properties"),
    ] {
        if let Some(n) = num(key) {
            out.push(words.replace("{}", &n));
        }
    }
    if let Some(Value::String(p)) = map.get("pattern") {
        out.push(format!("pattern {p}"));
    }
    if map.get("uniqueItems") == Some(&Value::Bool(true)) {
        out.push("unique items".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/apis").join(name)
    }

    fn reference(name: &str) -> Reference {
        let path = fixture(name);
        build(&Documents::load(&path, Path::new(name)).unwrap()).unwrap()
    }

    fn op<'a>(r: &'a Reference, id: &str) -> &'a Operation {
        r.operations.iter().find(|o| o.operation_id.as_deref() == Some(id)).unwrap()
    }

    #[test]
    fn a_31_document_with_every_construct_reads_into_the_reference() {
        let r = reference("petstore.yaml");
        assert_eq!((r.title.as_str(), r.version.as_str(), r.openapi.as_str()), ("Pet Store", "2.3.0", "3.1.0"));
        assert_eq!(r.summary.as_deref(), Some("Pets, their owners and adoptions."));
        let description = r.description.as_deref().unwrap();
        assert!(description.contains("&lt;script&gt;") && !description.contains("<script"), "{description}");
        assert!(!description.contains("javascript:"), "{description}");
        assert_eq!(r.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Pets", "Adoptions"]);
        assert_eq!(r.operations.len(), 5);
        assert!(!r.split);
        assert_eq!(op(&r, "listPets").anchor, "listpets");

        let list = op(&r, "listPets");
        let names: Vec<_> = list.parameters.iter().map(|p| (p.name.as_str(), p.location.as_str(), p.required)).collect();
        assert_eq!(
            names,
            [("limit", "query", false), ("species", "query", true), ("X-Request-Id", "header", false), ("session", "cookie", false)]
        );
        let species = &r.schemas[list.parameters[1].schema.unwrap()];
        assert_eq!(species.name.as_deref(), None, "a schema of another file is not one of this document's models");
        assert_eq!(species.enum_values, [serde_json::json!("cat"), serde_json::json!("dog"), serde_json::json!("bird")]);
        let limit = &r.schemas[list.parameters[0].schema.unwrap()];
        assert_eq!(limit.constraints, ["≥ 1", "≤ 100"]);
        assert_eq!(limit.default, Some(serde_json::json!(20)));
        assert_eq!(list.responses.iter().map(|x| x.status.as_str()).collect::<Vec<_>>(), ["200", "default"]);
        assert_eq!(r.schemas[list.responses[0].headers[0].schema.unwrap()].types, ["string", "null"]);

        let get = op(&r, "getPet");
        assert_eq!(get.parameters[0].name, "petId", "path-level parameters apply");
        assert!(op(&r, "deletePet").deprecated);

        let create = op(&r, "createPet");
        let (media, body) = create.body_example().unwrap();
        assert_eq!(media, "application/json");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).unwrap(),
            serde_json::json!({"name": "Rex", "species": "dog", "tags": ["good"]})
        );
        assert_eq!(create.responses[1].status, "4XX");

        let pet_id = r.models.iter().copied().find(|id| r.schemas[*id].name.as_deref() == Some("Pet")).unwrap();
        let pet = &r.schemas[pet_id];
        let field = |name: &str| pet.properties.iter().find(|p| p.name == name).unwrap();
        assert_eq!(field("parent").schema, pet_id, "a recursive schema is one node");
        assert!(r.schemas[field("id").schema].read_only && r.schemas[field("secret_chip").schema].write_only);
        assert_eq!(r.schemas[field("born").schema].types, ["string", "null"]);
        assert!(r.schemas[field("legacy_code").schema].deprecated);
        assert!(field("name").required && !field("born").required);
        let owner = &r.schemas[field("owner").schema];
        assert_eq!(owner.one_of.len(), 2);
        let d = owner.discriminator.as_ref().unwrap();
        assert_eq!((d.property.as_str(), d.mapping[1].0.as_str(), d.mapping[1].1.as_str()), ("kind", "shelter", "Shelter"));
        assert!(matches!(r.schemas[field("extras").schema].additional, Some(Some(_))));
        assert_eq!(r.schemas[field("tags").schema].constraints, ["unique items"]);

        let adopt = op(&r, "adopt");
        let contents = &adopt.request_body.as_ref().unwrap().contents;
        assert_eq!(contents[1].example.as_deref(), Some("adopt 42"), "a text example stays text");
        let accepted = &r.schemas[adopt.responses[0].contents[0].schema.unwrap()];
        assert_eq!(accepted.all_of.len(), 2);
        let status = &r.schemas[r.schemas[accepted.all_of[1]].properties[0].schema];
        assert_eq!(status.const_value, Some(serde_json::json!("pending")));
        assert_eq!(r.webhooks.len(), 1);
        assert_eq!(r.webhooks[0].anchor, "webhook-post-petadopted");
        let fee = r.schemas.iter().find(|s| s.constraints.iter().any(|c| c == "> 0"));
        assert!(fee.is_some(), "3.1 exclusiveMinimum is a number");
    }

    #[test]
    fn a_30_json_document_reads_nullable_and_exclusive_flags() {
        let r = reference("legacy.json");
        assert_eq!(r.openapi, "3.0.3");
        let get = op(&r, "getOrder");
        assert_eq!(r.schemas[get.parameters[0].schema.unwrap()].constraints, ["> 1"]);
        let order = r.models[0];
        let note = r.schemas[order].properties.iter().find(|p| p.name == "note").unwrap();
        assert_eq!(r.schemas[note.schema].types, ["string", "null"]);
        assert_eq!(r.operations[1].anchor, "get-v1-orders", "without operationId: method and path");
        assert_eq!(r.tags[0].name, "Other");
    }

    #[test]
    fn large_references_are_split_by_tag() {
        let mut text = String::from("openapi: 3.0.3\ninfo: {title: Big, version: '1'}\npaths:\n");
        for i in 0..60 {
            text.push_str(&format!("  /v1/r{i}:\n    get:\n      tags: [T{}]\n      responses: {{'200': {{description: ok}}}}\n", i % 3));
        }
        let dir = std::env::temp_dir().join(format!("mast-split-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("big.yaml"), text).unwrap();
        let r = build(&Documents::load(&dir.join("big.yaml"), Path::new("big.yaml")).unwrap()).unwrap();
        assert!(r.split);
        assert_eq!(r.tags.len(), 3);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Each broken document: the first problem, with its file and line, and never a panic.
    #[test]
    fn malformed_documents_name_the_file_line_and_reason() {
        let dir = std::env::temp_dir().join(format!("mast-broken-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("other.yaml"), "components: {schemas: {A: {type: string}}}\n").unwrap();
        let head = "openapi: 3.1.0\ninfo:\n  title: T\n  version: '1'\n";
        let cases: &[(&str, &str)] = &[
            ("swagger: '2.0'\ninfo: {title: T, version: '1'}\npaths: {}\n", "api.yaml:1: this is a Swagger 2.0 document"),
            ("openapi: 2.5\ninfo: {title: T}\n", "api.yaml:1: `openapi: 2.5`"),
            ("openapi: 3.0.3\npaths: {}\n", "api.yaml:1: `info:` is missing"),
            ("openapi: 3.0.3\ninfo: {version: '1'}\npaths: {}\n", "api.yaml:2: `info.title` is missing"),
            ("openapi: 3.0.3\ninfo: {title: T, version: '1'}\n", "`paths:` is missing"),
            (
                &format!(
                    "{head}paths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {{$ref: '#/components/schemas/Nope'}}\n"
                ),
                "api.yaml:13: `$ref: #/components/schemas/Nope` points at nothing",
            ),
            (
                &format!(
                    "{head}paths:\n  /a:\n    get:\n      parameters:\n        - {{$ref: '../secret.yaml#/x'}}\n      responses: {{}}\n"
                ),
                "api.yaml:9: `$ref: ../secret.yaml#/x`: only files in the same folder",
            ),
            (
                &format!(
                    "{head}paths:\n  /a:\n    get:\n      parameters:\n        - {{$ref: 'missing.yaml#/x'}}\n      responses: {{}}\n"
                ),
                "api.yaml:9: `$ref: missing.yaml#/x`: there is no file",
            ),
            (
                &format!(
                    "{head}paths:\n  /a:\n    get:\n      parameters:\n        - {{$ref: 'other.yaml#/components/schemas/B'}}\n      responses: {{}}\n"
                ),
                "api.yaml:9: `$ref: other.yaml#/components/schemas/B` points at nothing",
            ),
            (
                &format!(
                    "{head}paths:\n  /a:\n    get:\n      parameters:\n        - {{name: id, in: path, schema: {{type: string}}}}\n      responses: {{}}\n"
                ),
                "api.yaml:7: the path parameter `id` is not in the path `/a`",
            ),
            (
                &format!("{head}paths:\n  /a:\n    get:\n      parameters:\n        - {{name: id, in: body}}\n      responses: {{}}\n"),
                "api.yaml:9: the parameter `id` needs `in:` path, query, header or cookie",
            ),
            (
                &format!("{head}paths:\n  /a:\n    get:\n      responses:\n        ok: {{description: x}}\n"),
                "api.yaml:9: `ok` is not a response status",
            ),
            (&format!("{head}paths:\n  a:\n    get: {{}}\n"), "api.yaml:6: the path `a` must start with /"),
            (
                &format!(
                    "{head}paths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {{type: 7}}\n"
                ),
                "api.yaml:13: `type` must be a type name",
            ),
            (&format!("{head}paths:\n  /a: {{get: {{responses: {{}}}}}}\n  /a: {{}}\n"), "api.yaml:7: the key `/a` appears twice"),
            ("openapi: 3.1.0\ninfo: [\n", "api.yaml:"),
            (
                &format!(
                    "{head}components:\n  schemas:\n    A: {{$ref: '#/components/schemas/B'}}\n    B: {{$ref: '#/components/schemas/A'}}\npaths: {{}}\n"
                ),
                "these `$ref`s lead to each other",
            ),
        ];
        for (text, expected) in cases {
            std::fs::write(dir.join("api.yaml"), text).unwrap();
            let problem = Documents::load(&dir.join("api.yaml"), Path::new("api.yaml")).and_then(|docs| build(&docs).map(|_| ()));
            let message = problem.err().map(|p| p.to_string()).unwrap_or_else(|| "no problem found".into());
            assert!(message.contains(expected), "expected {expected:?}, got {message:?} for\n{text}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
