//! The one HTML page: a login form, or the user's counter, logout and sessions. Works
//! without JavaScript: every button is a form post answered with a 303 to `/`.

use std::fmt::Write as _;

use session_core::Timestamp;

use crate::PageView;

/// Renders `GET /`.
pub fn render(view: &PageView) -> String {
    let body = match &view.me.user {
        None => LOGIN_FORM.to_owned(),
        Some(user) => signed_in(user, view),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Sessions example</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>Sessions example</h1>\n{body}</main>\n</body>\n</html>\n"
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
main{max-width:36rem}form{display:inline-block;margin:.25rem .5rem .25rem 0}\
button,input{font-size:1rem;padding:.3rem .6rem}li{margin:.2rem 0}.current{font-weight:bold}";

const LOGIN_FORM: &str = "<form id=\"login-form\" method=\"post\" action=\"/api/login\">\n\
<label>User <input id=\"user-input\" name=\"user\" required maxlength=\"64\" autofocus></label>\n\
<button id=\"login\" type=\"submit\">Sign in</button>\n</form>\n";

fn signed_in(user: &str, view: &PageView) -> String {
    let mut html = format!(
        "<p>Signed in as <strong id=\"user\">{}</strong>.</p>\n\
         <p>Counter: <output id=\"count\">{}</output></p>\n\
         <form method=\"post\" action=\"/api/count\"><button id=\"increment\" type=\"submit\">+1</button></form>\n\
         <form method=\"post\" action=\"/api/logout\"><button id=\"logout\" type=\"submit\">Sign out</button></form>\n\
         <h2>Your sessions</h2>\n<ul id=\"sessions\">\n",
        escape(user),
        view.me.count
    );
    let now = Timestamp::now();
    for s in &view.sessions {
        let age = Timestamp::from_millis(s.created_at).until(now).as_secs();
        let (class, note) = if s.current {
            (" class=\"current\"", " (this browser)")
        } else {
            ("", "")
        };
        let _ = writeln!(
            html,
            "<li{class}>{} — started {}{note}</li>",
            escape(&s.id),
            ago(age)
        );
    }
    html.push_str(
        "</ul>\n<form method=\"post\" action=\"/api/sessions/revoke-others\">\
         <button id=\"revoke-others\" type=\"submit\">Sign out other sessions</button></form>\n",
    );
    html
}

fn ago(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        _ => format!("{} h ago", secs / 3600),
    }
}

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Me, SessionView};

    #[test]
    fn anonymous_page_is_the_login_form() {
        let html = render(&PageView {
            me: Me {
                user: None,
                count: 0,
            },
            sessions: vec![],
        });
        assert!(html.contains("action=\"/api/login\"") && html.contains("name=\"user\""));
        assert!(!html.contains("/api/logout"));
    }

    #[test]
    fn signed_in_page_escapes_and_lists_sessions() {
        let html = render(&PageView {
            me: Me {
                user: Some("<b>&".into()),
                count: 7,
            },
            sessions: vec![SessionView {
                id: "abc".into(),
                created_at: Timestamp::now().as_millis(),
                expires_at: 0,
                current: true,
            }],
        });
        assert!(html.contains("&lt;b&gt;&amp;") && !html.contains("<b>&"));
        assert!(html.contains("<output id=\"count\">7</output>"));
        assert!(html.contains("(this browser)") && html.contains("revoke-others"));
        assert!(!html.contains("action=\"/api/login\""));
    }
}
