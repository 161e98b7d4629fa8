//! Code samples for an operation: curl, JavaScript (`fetch`), Python (`requests`) and Rust
//! (`reqwest`), calling the portal's gateway with `$MAST_API_KEY` in place of the key (a key is
//! never shown again, so a sample cannot hold one).

use serde_json::Value;

use super::openapi::example::{Direction, example};
use super::openapi::{Operation, Reference};

pub struct Sample {
    pub language: &'static str,
    pub code: String,
}

/// The call an operation's samples make: URL with example path and query values, headers, body.
struct Call {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    /// Media type and text; JSON bodies also as a value, so languages can write them natively.
    body: Option<(String, String, Option<Value>)>,
}

pub fn samples(reference: &Reference, op: &Operation, base_url: &str) -> Vec<Sample> {
    let call = call(reference, op, base_url);
    vec![
        Sample { language: "curl", code: curl(&call) },
        Sample { language: "JavaScript", code: javascript(&call) },
        Sample { language: "Python", code: python(&call) },
        Sample { language: "Rust", code: rust(&call) },
    ]
}

/// A parameter's example value as text (also what the try-it console prefills).
pub fn example_text(reference: &Reference, p: &super::openapi::Parameter) -> String {
    if let Some(e) = &p.example {
        return e.clone();
    }
    match p.schema.map(|s| example(&reference.schemas, s, Direction::Request)) {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => p.name.to_uppercase(),
        Some(other) => other.to_string(),
    }
}

fn call(reference: &Reference, op: &Operation, base_url: &str) -> Call {
    let mut path = op.path.clone();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    for p in &op.parameters {
        let value = example_text(reference, p);
        match p.location.as_str() {
            "path" => path = path.replace(&format!("{{{}}}", p.name), &encode(&value)),
            "query" if p.required => query.push(format!("{}={}", encode(&p.name), encode(&value))),
            "header" if p.required => headers.push((p.name.clone(), value)),
            _ => {}
        }
    }
    let mut url = format!("{}{}", base_url.trim_end_matches('/'), path);
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    let body = op.body_example().map(|(media, text)| {
        let value = media.contains("json").then(|| serde_json::from_str::<Value>(text).ok()).flatten();
        (media.to_string(), text.to_string(), value)
    });
    if let Some((media, _, _)) = &body {
        headers.push(("Content-Type".into(), media.clone()));
    }
    Call { method: op.method.clone(), url, headers, body }
}

/// Percent-encodes what a URL cannot carry as it is.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn curl(call: &Call) -> String {
    let mut lines = vec![format!("curl -X {} {}", call.method, shell_quote(&call.url))];
    lines.push("  -H \"Authorization: Bearer $MAST_API_KEY\"".into());
    for (name, value) in &call.headers {
        lines.push(format!("  -H {}", shell_quote(&format!("{name}: {value}"))));
    }
    if let Some((_, text, _)) = &call.body {
        lines.push(format!("  --data-raw {}", shell_quote(text)));
    }
    lines.join(" \\\n")
}

fn js_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn indent(text: &str, by: &str) -> String {
    text.lines().enumerate().map(|(i, l)| if i == 0 { l.to_string() } else { format!("{by}{l}") }).collect::<Vec<_>>().join("\n")
}

fn javascript(call: &Call) -> String {
    let mut headers = vec!["    Authorization: `Bearer ${process.env.MAST_API_KEY}`,".to_string()];
    for (name, value) in &call.headers {
        headers.push(format!("    {}: {},", js_string(name), js_string(value)));
    }
    let body = match &call.body {
        Some((_, _, Some(value))) => {
            format!("\n  body: JSON.stringify({}),", indent(&serde_json::to_string_pretty(value).unwrap_or_default(), "  "))
        }
        Some((_, text, None)) => format!("\n  body: {},", js_string(text)),
        None => String::new(),
    };
    format!(
        "const response = await fetch({}, {{\n  method: {},\n  headers: {{\n{}\n  }},{body}\n}});\nconsole.log(response.status, await response.text());",
        js_string(&call.url),
        js_string(&call.method),
        headers.join("\n"),
    )
}

/// A JSON value written as a Python literal.
fn python_literal(value: &Value, depth: usize) -> String {
    let pad = "    ".repeat(depth + 1);
    let end = "    ".repeat(depth);
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => js_string(s),
        Value::Array(items) if items.is_empty() => "[]".into(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|v| format!("{pad}{},", python_literal(v, depth + 1))).collect();
            format!("[\n{}\n{end}]", inner.join("\n"))
        }
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => {
            let inner: Vec<String> = map.iter().map(|(k, v)| format!("{pad}{}: {},", js_string(k), python_literal(v, depth + 1))).collect();
            format!("{{\n{}\n{end}}}", inner.join("\n"))
        }
    }
}

fn python(call: &Call) -> String {
    let mut headers = vec!["\"Authorization\": f\"Bearer {os.environ['MAST_API_KEY']}\"".to_string()];
    for (name, value) in &call.headers {
        if !(name == "Content-Type" && matches!(call.body, Some((_, _, Some(_))))) {
            headers.push(format!("{}: {}", js_string(name), js_string(value)));
        }
    }
    let body = match &call.body {
        Some((_, _, Some(value))) => format!("\n    json={},", python_literal(value, 1)),
        Some((_, text, None)) => format!("\n    data={},", js_string(text)),
        None => String::new(),
    };
    format!(
        "import os\n\nimport requests\n\nresponse = requests.request(\n    {},\n    {},\n    headers={{{}}},{body}\n)\nprint(response.status_code, response.text)",
        js_string(&call.method),
        js_string(&call.url),
        headers.join(", "),
    )
}

fn rust(call: &Call) -> String {
    let method = match call.method.as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD") => format!(".{}({})", m.to_lowercase(), js_string(&call.url)),
        m => format!(".request(reqwest::Method::{m}, {})", js_string(&call.url)),
    };
    let mut lines = vec!["let response = reqwest::Client::new()".to_string(), format!("    {method}")];
    lines.push("    .bearer_auth(std::env::var(\"MAST_API_KEY\")?)".into());
    for (name, value) in &call.headers {
        if !(name == "Content-Type" && matches!(call.body, Some((_, _, Some(_))))) {
            lines.push(format!("    .header({}, {})", js_string(name), js_string(value)));
        }
    }
    match &call.body {
        Some((_, _, Some(value))) => lines
            .push(format!("    .json(&serde_json::json!({}))", indent(&serde_json::to_string_pretty(value).unwrap_or_default(), "    "))),
        Some((_, text, None)) => lines.push(format!("    .body({})", js_string(text))),
        None => {}
    }
    lines.push("    .send()\n    .await?;\nprintln!(\"{} {}\", response.status(), response.text().await?);".into());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_each_language() {
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
        assert_eq!(python_literal(&serde_json::json!({"a": [true, null]}), 0), "{\n    \"a\": [\n        True,\n        None,\n    ],\n}");
    }
}
