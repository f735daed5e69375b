//! Pulp's `q` filter (`ExpressionFilter`): a list's other filters combined with `NOT`, `AND`,
//! `OR` and parentheses, e.g. `pulp_type="core.rbac" AND NOT name__contains=GGGG`.
//!
//! The grammar is Pulp's (pyparsing's `infix_notation`, tightest first: `NOT`, `AND`, `OR`;
//! operators are upper-case keywords): a term is `<filter>=<value>`, the filter a name
//! (`[A-Za-z][A-Za-z0-9_]*`), the value a quoted string (quotes removed) or a bare word of
//! letters (Latin-1 included), digits and `.,_-*`. Each term is checked as the filter itself
//! checks its parameter, when it is read; an expression may hold at most [`MAX_COMPLEXITY`]
//! (a term counts 1, an operator 1 plus its operands; `a OR b OR c` is one operator).
//!
//! [`parse`] is pure: the list endpoint hands it the function that turns one filter into its
//! condition, and gets back a tree of those conditions to combine.

use serde_json::{Value, json};

use crate::ApiError;

/// The most complex expression Pulp accepts.
pub const MAX_COMPLEXITY: usize = 8;

/// A parsed expression over terms of type `L`.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr<L> {
    /// One filter.
    Term(L),
    /// Everything the inner expression does not match.
    Not(Box<Expr<L>>),
    /// What every operand matches.
    And(Vec<Expr<L>>),
    /// What any operand matches.
    Or(Vec<Expr<L>>),
}

impl<L> Expr<L> {
    /// Pulp's complexity: terms count 1, an operator 1 plus its operands.
    pub fn complexity(&self) -> usize {
        match self {
            Expr::Term(_) => 1,
            Expr::Not(e) => e.complexity() + 1,
            Expr::And(es) | Expr::Or(es) => es.iter().map(Expr::complexity).sum::<usize>() + 1,
        }
    }
}

/// Why an expression was refused, as Pulp words it.
#[derive(Clone, Debug, PartialEq)]
pub enum Refused {
    /// Not an expression.
    Syntax,
    /// Too complex.
    Complexity,
    /// A term names no filter of the list, or `q` itself.
    Unknown(String),
    /// A term's value is refused by its filter (the filter's own 400 body).
    Invalid(Value),
}

impl Refused {
    /// The 400 Pulp answers: `{"q": [message]}`; a refused value is its filter's errors as
    /// Django's `form.errors.as_json()` writes them, inside the message.
    pub fn into_error(self) -> ApiError {
        let message = match self {
            Refused::Syntax => "Syntax error in expression.".to_owned(),
            Refused::Complexity => "Filter expression exceeds allowed complexity.".to_owned(),
            Refused::Unknown(k) if k == "q" => {
                "You cannot use 'q' in complex filtering.".to_owned()
            }
            Refused::Unknown(k) => format!("Filter '{k}' does not exist."),
            Refused::Invalid(body) => form_errors_json(&body),
        };
        ApiError::BadRequest(json!({ "q": [message] }))
    }
}

/// `{"field": [{"message": "…", "code": "…"}]}` as Python's `json.dumps` writes it (`", "`
/// and `": "` separators, non-ASCII escaped), from a `{"field": ["…"]}` error body.
fn form_errors_json(body: &Value) -> String {
    let fields: Vec<String> = body
        .as_object()
        .into_iter()
        .flatten()
        .map(|(field, msgs)| {
            let items: Vec<String> = msgs
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|m| {
                    format!(
                        "{{\"message\": {}, \"code\": \"{}\"}}",
                        py_string(m),
                        django_code(m)
                    )
                })
                .collect();
            format!("{}: [{}]", py_string(field), items.join(", "))
        })
        .collect();
    format!("{{{}}}", fields.join(", "))
}

/// The code Django gives a validation message (what `as_json` shows beside it).
fn django_code(message: &str) -> &'static str {
    if message.starts_with("Select a valid choice") {
        "invalid_choice"
    } else if message.starts_with("This field is required") {
        "required"
    } else {
        "invalid"
    }
}

/// A JSON string as Python's `json.dumps` (with `ensure_ascii`) writes it.
fn py_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parses `text`; `term` turns each `(filter, value)` into a term as it is read (its error is
/// the answer).
pub fn parse<L>(
    text: &str,
    mut term: impl FnMut(&str, &str) -> Result<L, Refused>,
) -> Result<Expr<L>, Refused> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        term: &mut term,
    };
    let e = p.or()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(Refused::Syntax);
    }
    if e.complexity() > MAX_COMPLEXITY {
        return Err(Refused::Complexity);
    }
    Ok(e)
}

struct Parser<'a, F> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    term: &'a mut F,
}

/// pyparsing's keyword and identifier characters.
fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
}

impl<L, F: FnMut(&str, &str) -> Result<L, Refused>> Parser<'_, F> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    /// Consumes keyword `k` if it is next, as a whole word.
    fn keyword(&mut self, k: &str) -> bool {
        self.ws();
        let end = self.i + k.len();
        let whole = self.s.get(self.i..end) == Some(k.as_bytes())
            && !self.s.get(end).copied().is_some_and(ident_char);
        if whole {
            self.i = end;
        }
        whole
    }

    fn or(&mut self) -> Result<Expr<L>, Refused> {
        let mut all = vec![self.and()?];
        while self.keyword("OR") {
            all.push(self.and()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::Or(all)
        })
    }

    fn and(&mut self) -> Result<Expr<L>, Refused> {
        let mut all = vec![self.not()?];
        while self.keyword("AND") {
            all.push(self.not()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::And(all)
        })
    }

    fn not(&mut self) -> Result<Expr<L>, Refused> {
        if self.keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.ws();
        if self.s.get(self.i) == Some(&b'(') {
            self.i += 1;
            let e = self.or()?;
            self.ws();
            if self.s.get(self.i) != Some(&b')') {
                return Err(Refused::Syntax);
            }
            self.i += 1;
            return Ok(e);
        }
        self.term()
    }

    fn term(&mut self) -> Result<Expr<L>, Refused> {
        self.ws();
        let start = self.i;
        if !self.s.get(self.i).is_some_and(u8::is_ascii_alphabetic) {
            return Err(Refused::Syntax);
        }
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.i += 1;
        }
        let key = &self.text[start..self.i];
        self.ws();
        if self.s.get(self.i) != Some(&b'=') {
            return Err(Refused::Syntax);
        }
        self.i += 1;
        self.ws();
        let value = self.value()?;
        (self.term)(key, &value).map(Expr::Term)
    }

    /// A quoted string (without its quotes) or a bare word.
    fn value(&mut self) -> Result<String, Refused> {
        let rest = &self.text[self.i..];
        if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let mut escaped = false;
            for (n, c) in rest.char_indices().skip(1) {
                match c {
                    '\n' | '\r' => return Err(Refused::Syntax),
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    c if c == q => {
                        self.i += n + 1;
                        return Ok(rest[1..n].to_owned());
                    }
                    _ => {}
                }
            }
            return Err(Refused::Syntax);
        }
        // pyparsing's alphanums + alphas8bit (À–ÿ but × and ÷) + ".,_-*".
        let word = |c: char| {
            c.is_ascii_alphanumeric()
                || ".,_-*".contains(c)
                || (('\u{c0}'..='\u{ff}').contains(&c) && c != '\u{d7}' && c != '\u{f7}')
        };
        let len: usize = rest
            .chars()
            .take_while(|c| word(*c))
            .map(char::len_utf8)
            .sum();
        if len == 0 {
            return Err(Refused::Syntax);
        }
        self.i += len;
        Ok(rest[..len].to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(q: &str) -> Result<Expr<String>, Refused> {
        parse(q, |k, v| match k {
            "name" | "name__contains" | "name__icontains" | "pulp_type" | "pulp_type__in" => {
                Ok(format!("{k}={v}"))
            }
            "bad" => Err(Refused::Invalid(
                json!({"bad": ["Select a valid choice. x is not one of the available choices."]}),
            )),
            other => Err(Refused::Unknown(other.to_owned())),
        })
    }

    fn t(s: &str) -> Expr<String> {
        Expr::Term(s.to_owned())
    }

    #[test]
    fn precedence_quotes_and_words() {
        assert_eq!(
            terms(r#"pulp_type="core.rbac" AND NOT name__contains=GG OR name='x y'"#),
            Ok(Expr::Or(vec![
                Expr::And(vec![
                    t("pulp_type=core.rbac"),
                    Expr::Not(Box::new(t("name__contains=GG")))
                ]),
                t("name=x y"),
            ]))
        );
        assert_eq!(
            terms("pulp_type=\"a\" AND(   name__icontains=gh OR name=\"áß\")"),
            Ok(Expr::And(vec![
                t("pulp_type=a"),
                Expr::Or(vec![t("name__icontains=gh"), t("name=áß")])
            ]))
        );
        assert_eq!(
            terms("pulp_type__in=core.rbac,core.x"),
            Ok(t("pulp_type__in=core.rbac,core.x"))
        );
        assert_eq!(terms("name = 0a-b_c*"), Ok(t("name=0a-b_c*")));
    }

    #[test]
    fn refusals_as_pulp_words_them() {
        for bad in [
            "name=\"test\" and",
            "name=\"test\" AND",
            "name=\"test\" AND (name=\"test2\"",
            "name=",
            "=x",
            "name=\"open",
            "",
        ] {
            assert_eq!(terms(bad), Err(Refused::Syntax), "{bad}");
        }
        let chain = |n: usize| {
            (1..=n)
                .map(|i| format!("name=\"t{i}\""))
                .collect::<Vec<_>>()
                .join(" OR ")
        };
        assert!(terms(&chain(7)).is_ok());
        assert_eq!(terms(&chain(8)), Err(Refused::Complexity));
        assert_eq!(
            terms("(name=a OR NOT name=b) OR name=c OR name=d OR name=e OR name=f"),
            Err(Refused::Complexity)
        );
        assert_eq!(
            terms("pulp_type_in=\"core.rbac\""),
            Err(Refused::Unknown("pulp_type_in".into()))
        );
        let ApiError::BadRequest(body) = terms("bad=x").unwrap_err().into_error() else {
            panic!()
        };
        assert_eq!(
            body.to_string(),
            r#"{"q":["{\"bad\": [{\"message\": \"Select a valid choice. x is not one of the available choices.\", \"code\": \"invalid_choice\"}]}"]}"#
        );
        assert_eq!(py_string("é\u{1F600}"), "\"\\u00e9\\ud83d\\ude00\"");
    }
}
