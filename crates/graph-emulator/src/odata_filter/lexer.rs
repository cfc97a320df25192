//! The tokens of a `$filter`: words (property paths, operators, keywords),
//! quoted text (`''` is a quote), parentheses, commas and colons. The two
//! grammars differ only in what makes a word.

/// A token of a `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Word(String),
    Text(String),
    Open,
    Close,
    Comma,
    Colon,
}

/// What a grammar takes for one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Words {
    /// Letters, digits and `/ . _ $ -`; a comma is a token of its own and
    /// any other character is an error (the directory's grammar).
    PropertyPaths,
    /// Everything up to white space, a parenthesis, a colon or a quote,
    /// commas included (Exchange's grammar).
    UpToDelimiters,
}

impl Words {
    fn takes(self, character: char) -> bool {
        match self {
            Words::PropertyPaths => {
                character.is_alphanumeric() || matches!(character, '/' | '.' | '_' | '$' | '-')
            }
            Words::UpToDelimiters => !matches!(character, ' ' | '\t' | '(' | ')' | ':' | '\''),
        }
    }
}

/// Where the filter stops being tokens (character offset): the opening
/// quote of a text that is never closed, or a character no token takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LexError {
    pub at: usize,
}

/// The filter's tokens, each with the character offset it starts at.
pub(super) fn tokenize(filter: &str, words: Words) -> Result<Vec<(Token, usize)>, LexError> {
    let characters: Vec<char> = filter.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        match character {
            ' ' | '\t' => index += 1,
            '(' => {
                tokens.push((Token::Open, index));
                index += 1;
            }
            ')' => {
                tokens.push((Token::Close, index));
                index += 1;
            }
            ':' => {
                tokens.push((Token::Colon, index));
                index += 1;
            }
            ',' if words == Words::PropertyPaths => {
                tokens.push((Token::Comma, index));
                index += 1;
            }
            '\'' => {
                let start = index;
                let mut text = String::new();
                index += 1;
                loop {
                    let Some(current) = characters.get(index) else {
                        return Err(LexError { at: start });
                    };
                    if *current == '\'' {
                        if characters.get(index + 1) == Some(&'\'') {
                            text.push('\'');
                            index += 2;
                            continue;
                        }
                        index += 1;
                        break;
                    }
                    text.push(*current);
                    index += 1;
                }
                tokens.push((Token::Text(text), start));
            }
            _ if words.takes(character) => {
                let start = index;
                let mut word = String::new();
                while let Some(current) = characters.get(index) {
                    if !words.takes(*current) {
                        break;
                    }
                    word.push(*current);
                    index += 1;
                }
                tokens.push((Token::Word(word), start));
            }
            _ => return Err(LexError { at: index }),
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(filter: &str, words: Words) -> Vec<Token> {
        tokenize(filter, words)
            .expect("tokens")
            .into_iter()
            .map(|(token, _)| token)
            .collect()
    }

    #[test]
    fn a_comma_is_a_token_between_property_paths_and_part_of_an_exchange_word() {
        assert_eq!(
            tokens("startswith(ep/value,'O''Br')", Words::PropertyPaths),
            vec![
                Token::Word("startswith".into()),
                Token::Open,
                Token::Word("ep/value".into()),
                Token::Comma,
                Token::Text("O'Br".into()),
                Token::Close,
            ]
        );
        assert_eq!(
            tokens("startswith(ep/value,'O''Br')", Words::UpToDelimiters),
            vec![
                Token::Word("startswith".into()),
                Token::Open,
                Token::Word("ep/value,".into()),
                Token::Text("O'Br".into()),
                Token::Close,
            ]
        );
    }

    #[test]
    fn an_unclosed_text_and_a_stray_character_say_where() {
        assert_eq!(
            tokenize("mail eq 'a", Words::UpToDelimiters),
            Err(LexError { at: 8 })
        );
        assert_eq!(
            tokenize("mail eq #a", Words::PropertyPaths),
            Err(LexError { at: 8 })
        );
        assert!(tokenize("mail eq #a", Words::UpToDelimiters).is_ok());
    }
}
