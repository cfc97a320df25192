//! A small syntax check for the PowerShell scripts galsync writes, for
//! machines without `pwsh`. It is NOT a PowerShell parser: it checks only
//!
//! - brackets `()`, `{}`, `[]` balance and nest, also inside `$( … )` in
//!   double-quoted strings;
//! - strings end: single-quoted (`''` is a quote), double-quoted (`` ` ``
//!   escapes, `""` is a quote), and here-strings `@' … '@` / `@" … "@`;
//! - `# …` and `<# … #>` comments are skipped (a `#` inside a string is text);
//! - in a double-quoted string, `$name:` followed by no name character (which
//!   PowerShell refuses as a drive-qualified variable) is reported;
//! - every variable used is assigned, a loop variable or a parameter earlier in
//!   the text (by position, not by scope), or automatic (`$_`, `$true`, …).
//!
//! Anything else — cmdlet names, parameters, operators, types — it does not see.

use std::collections::HashSet;

const AUTOMATIC: &[&str] = &[
    "_",
    "true",
    "false",
    "null",
    "psscriptroot",
    "erroractionpreference",
    "args",
    "psboundparameters",
    "pscmdlet",
    "lastexitcode",
];

/// Problems found, each with its 1-based line; empty when none.
pub fn check(script: &str) -> Vec<String> {
    let mut checker = Checker {
        chars: script.chars().collect(),
        position: 0,
        line: 1,
        assigned: AUTOMATIC.iter().map(|name| name.to_string()).collect(),
        problems: Vec::new(),
        in_param_block: 0,
    };
    checker.code(None);
    checker.problems
}

struct Checker {
    chars: Vec<char>,
    position: usize,
    line: usize,
    assigned: HashSet<String>,
    problems: Vec<String>,
    /// Depth of `param(` blocks we are in: variables there are declared.
    in_param_block: usize,
}

impl Checker {
    fn peek(&self, offset: usize) -> Option<char> {
        self.chars.get(self.position + offset).copied()
    }

    fn advance(&mut self) -> Option<char> {
        let character = self.chars.get(self.position).copied()?;
        self.position += 1;
        if character == '\n' {
            self.line += 1;
        }
        Some(character)
    }

    fn problem(&mut self, line: usize, text: String) {
        self.problems.push(format!("line {line}: {text}"));
    }

    /// Code until `closing` (the bracket that ends a `$( … )`), or the end.
    fn code(&mut self, closing: Option<char>) {
        let mut stack: Vec<(char, usize)> = Vec::new();
        while let Some(character) = self.peek(0) {
            match character {
                '#' => self.skip_line_comment(),
                '<' if self.peek(1) == Some('#') => self.skip_block_comment(),
                '@' if matches!(self.peek(1), Some('\'') | Some('"'))
                    && self.here_string_opens() =>
                {
                    self.here_string()
                }
                '\'' => self.single_quoted(),
                '"' => self.double_quoted(),
                '$' => self.variable(false),
                '`' => {
                    self.advance();
                    self.advance();
                }
                '(' | '{' | '[' => {
                    if character == '(' && self.preceded_by_word("param") {
                        self.in_param_block += 1;
                        stack.push(('P', self.line));
                    } else {
                        stack.push((character, self.line));
                    }
                    self.advance();
                }
                ')' | '}' | ']' => {
                    if stack.is_empty() && closing == Some(character) {
                        self.advance();
                        return;
                    }
                    let line = self.line;
                    match stack.pop() {
                        Some(('P', _)) if character == ')' => self.in_param_block -= 1,
                        Some((open, _)) if matching(open) == character => {}
                        Some((open, open_line)) => self.problem(
                            line,
                            format!("`{character}` closes `{open}` opened on line {open_line}"),
                        ),
                        None => self.problem(line, format!("`{character}` closes nothing")),
                    }
                    self.advance();
                }
                _ => {
                    self.advance();
                }
            }
        }
        for (open, line) in stack {
            let open = if open == 'P' { '(' } else { open };
            self.problem(line, format!("`{open}` is never closed"));
        }
        if let Some(closing) = closing {
            let line = self.line;
            self.problem(line, format!("`$(` is never closed by `{closing}`"));
        }
    }

    fn preceded_by_word(&self, word: &str) -> bool {
        let before: String = self.chars[..self.position].iter().collect();
        before.trim_end().to_ascii_lowercase().ends_with(word)
    }

    fn skip_line_comment(&mut self) {
        while let Some(character) = self.peek(0) {
            if character == '\n' {
                return;
            }
            self.advance();
        }
    }

    fn skip_block_comment(&mut self) {
        let line = self.line;
        while self.peek(0).is_some() {
            if self.peek(0) == Some('#') && self.peek(1) == Some('>') {
                self.advance();
                self.advance();
                return;
            }
            self.advance();
        }
        self.problem(line, "`<#` comment is never closed".to_owned());
    }

    /// `@'` or `@"` opens a here-string only when the line ends right after it.
    fn here_string_opens(&self) -> bool {
        let mut offset = 2;
        while let Some(character) = self.peek(offset) {
            match character {
                ' ' | '\t' | '\r' => offset += 1,
                '\n' => return true,
                _ => return false,
            }
        }
        false
    }

    fn here_string(&mut self) {
        let line = self.line;
        self.advance();
        let quote = self.advance().unwrap_or('"');
        while let Some(character) = self.advance() {
            if character == '\n' && self.peek(0) == Some(quote) && self.peek(1) == Some('@') {
                self.advance();
                self.advance();
                return;
            }
            if quote == '"' && character == '$' {
                self.position -= 1;
                self.variable(true);
            }
        }
        self.problem(line, format!("here-string `@{quote}` is never closed"));
    }

    fn single_quoted(&mut self) {
        let line = self.line;
        self.advance();
        while let Some(character) = self.advance() {
            if character == '\'' {
                if self.peek(0) == Some('\'') {
                    self.advance();
                    continue;
                }
                return;
            }
        }
        self.problem(line, "single-quoted string is never closed".to_owned());
    }

    fn double_quoted(&mut self) {
        let line = self.line;
        self.advance();
        while let Some(character) = self.peek(0) {
            match character {
                '`' => {
                    self.advance();
                    self.advance();
                }
                '"' if self.peek(1) == Some('"') => {
                    self.advance();
                    self.advance();
                }
                '"' => {
                    self.advance();
                    return;
                }
                '$' => self.variable(true),
                _ => {
                    self.advance();
                }
            }
        }
        self.problem(line, "double-quoted string is never closed".to_owned());
    }

    /// At a `$`: a subexpression, `${name}`, `$scope:name`, or `$name`.
    fn variable(&mut self, in_string: bool) {
        let line = self.line;
        self.advance();
        match self.peek(0) {
            Some('(') => {
                self.advance();
                self.code(Some(')'));
                return;
            }
            Some('{') => {
                self.advance();
                let mut name = String::new();
                while let Some(character) = self.advance() {
                    if character == '}' {
                        break;
                    }
                    name.push(character);
                }
                self.use_or_assign(&name, line);
                return;
            }
            _ => {}
        }
        let mut name = String::new();
        while let Some(character) = self.peek(0) {
            if character.is_alphanumeric() || character == '_' {
                name.push(character);
                self.advance();
            } else {
                break;
            }
        }
        if name.is_empty() {
            return;
        }
        if self.peek(0) == Some(':') && self.peek(1) != Some(':') {
            let next_is_name = self
                .peek(1)
                .is_some_and(|character| character.is_alphanumeric() || character == '_');
            if next_is_name {
                // $env:PATH, $script:Name: a drive or scope; not checked further.
                self.advance();
                while self
                    .peek(0)
                    .is_some_and(|character| character.is_alphanumeric() || character == '_')
                {
                    self.advance();
                }
                return;
            }
            if in_string {
                self.problem(
                    line,
                    format!("`${name}:` in a string is not a valid variable reference; write `${{{name}}}:`"),
                );
                return;
            }
        }
        self.use_or_assign(&name, line);
    }

    fn use_or_assign(&mut self, name: &str, line: usize) {
        let key = name.to_ascii_lowercase();
        if self.in_param_block > 0 || self.is_assignment() || self.is_loop_variable() {
            self.assigned.insert(key);
            return;
        }
        if !self.assigned.contains(&key) {
            self.problem(line, format!("`${name}` is used before it is assigned"));
        }
    }

    /// The variable just read is followed by `=`, `+=`, `-=` (not `==`).
    fn is_assignment(&self) -> bool {
        let mut offset = 0;
        while matches!(self.peek(offset), Some(' ') | Some('\t')) {
            offset += 1;
        }
        match (self.peek(offset), self.peek(offset + 1)) {
            (Some('='), next) => next != Some('='),
            (Some('+'), Some('=')) | (Some('-'), Some('=')) => true,
            _ => false,
        }
    }

    /// `foreach ($Name in …)`: the variable just read follows `foreach (`.
    fn is_loop_variable(&self) -> bool {
        let before: String = self.chars[..self.position].iter().collect();
        let Some(dollar) = before.rfind('$') else {
            return false;
        };
        let head = before[..dollar].trim_end().to_ascii_lowercase();
        let Some(head) = head.strip_suffix('(') else {
            return false;
        };
        head.trim_end().ends_with("foreach")
    }
}

fn matching(open: char) -> char {
    match open {
        '(' => ')',
        '{' => '}',
        '[' => ']',
        _ => open,
    }
}

#[test]
fn the_checker_finds_what_it_claims_to() {
    assert_eq!(
        check("$a = 'it''s'\nWrite-Host \"$a`\" $($a.Length)\"\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        check("$x = @\"\n{ $x\n\"@\nforeach ($Item in @(1)) { $Item }\nfunction F { param([string]$P) $P }\n"),
        Vec::<String>::new()
    );
    assert_eq!(check("if ($true) {\n"), ["line 1: `{` is never closed"]);
    assert_eq!(
        check("$a = (1]\n"),
        ["line 1: `]` closes `(` opened on line 1"]
    );
    assert_eq!(
        check("Write-Host 'open\n"),
        ["line 1: single-quoted string is never closed"]
    );
    assert_eq!(
        check("$b = 1\n\"$b: x\"\n"),
        ["line 2: `$b:` in a string is not a valid variable reference; write `${b}:`"]
    );
    assert_eq!(
        check("Write-Host $Missing\n$Missing = 1\n"),
        ["line 1: `$Missing` is used before it is assigned"]
    );
    assert_eq!(
        check("# it's a comment with { and \"\n$env:PATH\n"),
        Vec::<String>::new()
    );
}
