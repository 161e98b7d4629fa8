//! CommonMark to HTML that is safe to put in a page: raw HTML is shown as text, and links and
//! images keep only web, mail and local addresses (never `javascript:` or `data:`).

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

pub fn to_html(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(|event| match event {
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Link { link_type, dest_url: safe_url(dest_url), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            Event::Start(Tag::Image { link_type, dest_url: safe_url(dest_url), title, id })
        }
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, parser);
    out
}

/// The text of a Markdown paragraph without markup, for summaries and search.
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::new();
    for event in Parser::new(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            // Blocks end with a space so paragraphs do not run together; inline markup adds none.
            Event::SoftBreak | Event::HardBreak | Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item) => out.push(' '),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower.split_once(':').map(|(s, _)| s).filter(|s| !s.contains(['/', '?', '#']));
    match scheme {
        None | Some("http" | "https" | "mailto") => url,
        Some(_) => CowStr::Borrowed("#"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_and_script_links_never_reach_the_page() {
        let html = to_html(
            "Hi <script>alert(1)</script> [a](javascript:alert(1)) [b](JavaScript:x) ![c](data:image/svg+xml,x) [d](/docs) [e](https://x.org)",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.to_ascii_lowercase().contains("javascript:"), "{html}");
        assert!(!html.contains("data:image"), "{html}");
        assert!(html.contains("href=\"/docs\"") && html.contains("href=\"https://x.org\""), "{html}");
    }

    #[test]
    fn plain_text_drops_the_markup() {
        assert_eq!(plain_text("A **pet** store.\nWith `code`."), "A pet store. With code.");
        assert_eq!(plain_text("# Pets\n\nOne *[link](/x)*.\n\n- a\n- b"), "Pets One link. a b");
    }
}
