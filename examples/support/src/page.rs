//! The one HTML page: a login form, or the user's counter, logout and account page (the
//! user's sessions with label, created and last seen, a sign-out button per other session,
//! and "sign out everywhere else"). Works without JavaScript: every button is a form post
//! answered with a 303 to `/`, and the CSRF guard refuses such posts from other sites.

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
button,input{font-size:1rem;padding:.3rem .6rem}li{margin:.4rem 0}.current{font-weight:bold}\
.meta{color:#555;font-size:.9rem}";

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
        let created = Timestamp::from_millis(s.created_at).until(now).as_secs();
        let seen = Timestamp::from_millis(s.last_seen).until(now).as_secs();
        let label = escape(s.label.as_deref().unwrap_or("Unknown device"));
        let id = escape(&s.id);
        let (class, action) = if s.current {
            (" class=\"current\"", " (this browser)".to_owned())
        } else {
            (
                "",
                format!(
                    " <form method=\"post\" action=\"/api/sessions/{id}/revoke\">\
                     <button class=\"revoke-session\" type=\"submit\">Sign out</button></form>"
                ),
            )
        };
        let _ = writeln!(
            html,
            "<li{class} data-session=\"{id}\">{label}{action}<br>\
             <span class=\"meta\">signed in {}, last seen {}</span></li>",
            ago(created),
            ago(seen)
        );
    }
    html.push_str(
        "</ul>\n<form method=\"post\" action=\"/api/sessions/revoke-others\">\
         <button id=\"revoke-others\" type=\"submit\">Sign out everywhere else</button></form>\n",
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
            sessions: vec![
                SessionView {
                    id: "abc".into(),
                    label: Some("Firefox on <Linux>".into()),
                    created_at: Timestamp::now().as_millis(),
                    last_seen: Timestamp::now().as_millis(),
                    expires_at: 0,
                    current: true,
                },
                SessionView {
                    id: "def".into(),
                    label: None,
                    created_at: Timestamp::now().as_millis() - 7_200_000,
                    last_seen: Timestamp::now().as_millis() - 120_000,
                    expires_at: 0,
                    current: false,
                },
            ],
        });
        assert!(html.contains("&lt;b&gt;&amp;") && !html.contains("<b>&"));
        assert!(html.contains("<output id=\"count\">7</output>"));
        assert!(html.contains("(this browser)") && html.contains("revoke-others"));
        assert!(html.contains("Firefox on &lt;Linux&gt;") && html.contains("Unknown device"));
        assert!(html.contains("action=\"/api/sessions/def/revoke\""));
        assert!(
            !html.contains("/api/sessions/abc/revoke"),
            "no button for this browser"
        );
        assert!(html.contains("signed in 2 h ago, last seen 2 min ago"));
        assert!(!html.contains("action=\"/api/login\""));
    }
}
