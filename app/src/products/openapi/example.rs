//! Example values made from schemas, for bodies the document gives no example of: what a code
//! sample sends and what try-it prefills. Like the author would write them: their own examples,
//! defaults and enum values first, then a plain value of the right type.

use serde_json::{Map, Value};

use super::model::{Schema, SchemaId};

/// Which side of the call: requests leave out read-only properties, answers write-only ones.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

/// The most values one example holds. Depth alone does not bound it: a schema that refers to
/// another four times, eight levels down, would make 4^8 objects.
pub const MAX_VALUES: usize = 400;

pub fn example(schemas: &[Schema], id: SchemaId, direction: Direction) -> Value {
    let mut walk = Walk { path: Vec::new(), left: MAX_VALUES, direction };
    value_of(schemas, id, &mut walk)
}

/// Where an example's making stands: the schemas it is inside, and how many values it may add.
struct Walk {
    path: Vec<SchemaId>,
    left: usize,
    direction: Direction,
}

fn value_of(schemas: &[Schema], id: SchemaId, walk: &mut Walk) -> Value {
    let Some(schema) = schemas.get(id) else { return Value::Null };
    if walk.left == 0 {
        return Value::Null;
    }
    walk.left -= 1;
    if let Some(given) = schema.example.as_ref().or(schema.const_value.as_ref()).or(schema.default.as_ref()).or(schema.enum_values.first())
    {
        return given.clone();
    }
    // A schema that contains itself gets no deeper than its first appearance.
    if walk.path.contains(&id) || walk.path.len() > 8 {
        return if schema.types.iter().any(|t| t == "array") { Value::Array(Vec::new()) } else { Value::Null };
    }
    walk.path.push(id);
    let value = shaped(schemas, schema, walk);
    walk.path.pop();
    value
}

fn shaped(schemas: &[Schema], schema: &Schema, walk: &mut Walk) -> Value {
    if !schema.all_of.is_empty() {
        let mut merged = Map::new();
        for part in &schema.all_of {
            match value_of(schemas, *part, walk) {
                Value::Object(fields) => merged.extend(fields),
                other if schema.all_of.len() == 1 => return other,
                _ => {}
            }
        }
        merged.extend(object_fields(schemas, schema, walk));
        return Value::Object(merged);
    }
    if let Some(first) = schema.one_of.first().or(schema.any_of.first()) {
        let mut value = value_of(schemas, *first, walk);
        if let Value::Object(fields) = &mut value {
            fields.extend(object_fields(schemas, schema, walk));
        }
        return value;
    }
    let kind = schema.types.iter().find(|t| *t != "null").map(String::as_str);
    match kind {
        Some("object") => Value::Object(object_fields(schemas, schema, walk)),
        None if !schema.properties.is_empty() => Value::Object(object_fields(schemas, schema, walk)),
        Some("array") => match schema.items {
            Some(items) => Value::Array(vec![value_of(schemas, items, walk)]),
            None => Value::Array(Vec::new()),
        },
        Some("string") => Value::String(string_for(schema.format.as_deref()).into()),
        Some("integer") => Value::from(0),
        Some("number") => Value::from(0.0),
        Some("boolean") => Value::Bool(true),
        _ if schema.types.iter().any(|t| t == "null") => Value::Null,
        _ => Value::Null,
    }
}

fn object_fields(schemas: &[Schema], schema: &Schema, walk: &mut Walk) -> Map<String, Value> {
    let mut fields = Map::new();
    for property in &schema.properties {
        // Out of values: the object ends here rather than holding nulls.
        if walk.left == 0 {
            break;
        }
        let Some(target) = schemas.get(property.schema) else { continue };
        let skip = match walk.direction {
            Direction::Request => target.read_only,
            Direction::Response => target.write_only,
        };
        if !skip {
            fields.insert(property.name.clone(), value_of(schemas, property.schema, walk));
        }
    }
    fields
}

fn string_for(format: Option<&str>) -> &'static str {
    match format {
        Some("date-time") => "2026-01-31T12:00:00Z",
        Some("date") => "2026-01-31",
        Some("time") => "12:00:00",
        Some("email") => "dev@example.com",
        Some("uuid") => "0190f3a2-7c4e-7d2a-9b1e-5f6a7b8c9d0e",
        Some("uri" | "url") => "https://example.com",
        Some("hostname") => "example.com",
        Some("ipv4") => "192.0.2.1",
        Some("ipv6") => "2001:db8::1",
        Some("byte") => "aGVsbG8=",
        Some("password") => "********",
        _ => "string",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::products::openapi::model::Property;

    fn node(types: &[&str]) -> Schema {
        Schema { types: types.iter().map(|t| t.to_string()).collect(), ..Schema::default() }
    }

    #[test]
    fn examples_follow_the_schema_and_stop_at_recursion() {
        // 0: Pet { id (read-only integer), name (string), tags: [string], parent: Pet }
        let mut pet = node(&["object"]);
        pet.properties = vec![
            Property { name: "id".into(), schema: 1, required: true },
            Property { name: "name".into(), schema: 2, required: true },
            Property { name: "born".into(), schema: 3, required: false },
            Property { name: "parent".into(), schema: 0, required: false },
        ];
        let mut id = node(&["integer"]);
        id.read_only = true;
        let mut name = node(&["string"]);
        name.example = Some(Value::from("Rex"));
        let mut born = node(&["string", "null"]);
        born.format = Some("date".into());
        let schemas = vec![pet, id, name, born];
        let request = example(&schemas, 0, Direction::Request);
        assert_eq!(request, serde_json::json!({"name": "Rex", "born": "2026-01-31", "parent": null}));
        let answer = example(&schemas, 0, Direction::Response);
        assert_eq!(answer["id"], 0);
        assert!(answer["parent"].is_null(), "a recursive schema is not expanded again");
    }

    #[test]
    fn a_schema_that_refers_to_others_many_times_makes_a_small_example() {
        // 0..10: each an object with four properties of the next schema (4^10 objects unbounded).
        let schemas: Vec<Schema> = (0..10)
            .map(|i| {
                let mut s = node(&["object"]);
                s.properties = (0..4).map(|p| Property { name: format!("p{p}"), schema: (i + 1).min(9), required: true }).collect();
                s
            })
            .collect();
        let value = example(&schemas, 0, Direction::Request);
        fn count(v: &Value) -> usize {
            1 + match v {
                Value::Object(m) => m.values().map(count).sum(),
                Value::Array(a) => a.iter().map(count).sum(),
                _ => 0,
            }
        }
        assert!(count(&value) <= MAX_VALUES, "{} values", count(&value));
        assert!(value["p0"]["p0"].is_object(), "still an example of the shape");
    }
}
