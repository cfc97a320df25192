//! Hand-written HTML. Every value that did not come from this file goes
//! through [`escape`] (or [`Page::text`]); nothing else builds markup.

use std::fmt::Write;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A page's body as it is written: markup from this crate's literals, and
/// values escaped on their way in.
#[derive(Default)]
pub struct Page {
    body: String,
}

impl Page {
    /// Appends markup written in this crate (never a value from outside).
    pub fn markup(&mut self, markup: &str) -> &mut Self {
        self.body.push_str(markup);
        self
    }

    /// Appends a value, escaped.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.body.push_str(&escape(value));
        self
    }

    /// Appends a number.
    pub fn number(&mut self, value: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.body, "{value}");
        self
    }

    pub fn into_body(self) -> String {
        self.body
    }
}

/// Who is signed in, for the page header; `None` on the sign-in page.
pub struct Header<'a> {
    pub person: &'a str,
    pub role: &'a str,
    pub csrf_token: &'a str,
}

/// The whole document around `body`. `refresh_without_script` makes a
/// browser without script reload the page every few seconds (live progress).
pub fn document(
    title: &str,
    header: Option<Header<'_>>,
    body: &str,
    refresh_without_script: bool,
) -> String {
    let mut html = String::new();
    html.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(html, "<title>{} · galsync</title>", escape(title));
    html.push_str("<link rel=\"stylesheet\" href=\"/assets/console.css\">\n");
    if refresh_without_script {
        html.push_str("<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>\n");
    }
    // On every page; it acts only where a run's progress is followed.
    html.push_str("<script src=\"/assets/console.js\" defer></script>\n");
    html.push_str("</head>\n<body>\n<header>\n<a class=\"brand\" href=\"/\">galsync</a>\n");
    if let Some(header) = header {
        html.push_str("<nav aria-label=\"Main\"><a href=\"/\">Overview</a> <a href=\"/tenants\">Tenants</a> <a href=\"/runs\">Runs</a> <a href=\"/profiles\">Profiles</a> <a href=\"/audit\">Audit log</a> <a href=\"/api-keys\">API keys</a></nav>\n");
        let _ = writeln!(
            html,
            "<form class=\"who\" method=\"post\" action=\"/sign-out\"><span>{} ({})</span> \
             <input type=\"hidden\" name=\"csrf_token\" value=\"{}\"> \
             <button type=\"submit\">Sign out</button></form>",
            escape(header.person),
            escape(header.role),
            escape(header.csrf_token)
        );
    }
    html.push_str("</header>\n<main>\n");
    let _ = writeln!(html, "<h1>{}</h1>", escape(title));
    html.push_str(body);
    html.push_str("\n</main>\n</body>\n</html>\n");
    html
}

/// A page that opens the overview at once (a refresh, not an HTTP
/// redirect: see the sign-in link's handler); `body` is markup.
pub fn document_redirecting_to_overview(title: &str, body: &str) -> String {
    document_redirecting(title, body, "/")
}

/// A page that opens `target` at once with a refresh: a navigation the
/// pages' `form-action 'self'` does not govern, so a form's answer can send
/// the browser to another site (Microsoft's sign-out); `body` is markup.
pub fn document_redirecting(title: &str, body: &str, target: &str) -> String {
    let page = document(title, None, body, false);
    page.replacen(
        "</title>\n",
        &format!(
            "</title>\n<meta http-equiv=\"refresh\" content=\"0; url={}\">\n",
            escape(target)
        ),
        1,
    )
}

/// A whole page saying `message` (escaped here), for anyone.
pub fn error_page_body(title: &str, message: &str) -> String {
    let body = format!("<p class=\"error\">{}</p>", escape(message));
    document(title, None, &body, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        let mut page = Page::default();
        page.markup("<td>").text("<b>").markup("</td>");
        assert_eq!(page.into_body(), "<td>&lt;b&gt;</td>");
    }
}
