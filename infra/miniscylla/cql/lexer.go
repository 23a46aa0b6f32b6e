package cql

import "strings"

type tokenKind uint8

const (
	tkEOF       tokenKind = iota
	tkIdent               // unquoted identifier or keyword
	tkQuotedID            // "quoted identifier"
	tkString              // 'string' or $$string$$
	tkInteger             // 123
	tkFloat               // 1.5, 1e3
	tkUUID                // 8-4-4-4-12 hex
	tkBlob                // 0x...
	tkDuration            // 1h30m
	tkQMark               // ?
	tkLParen              // (
	tkRParen              // )
	tkLBracket            // [
	tkRBracket            // ]
	tkLBrace              // {
	tkRBrace              // }
	tkComma               // ,
	tkSemicolon           // ;
	tkDot                 // .
	tkStar                // *
	tkColon               // :
	tkEq                  // =
	tkNeq                 // !=
	tkLt                  // <
	tkLte                 // <=
	tkGt                  // >
	tkGte                 // >=
	tkPlus                // +
	tkMinus               // -
	tkPlusEq              // +=
	tkMinusEq             // -=
)

// token is a slice [pos, end) of the source; values are decoded on demand
// so lexing allocates nothing per token.
type token struct {
	kind tokenKind
	pos  int
	end  int
}

// lex splits src into tokens, appending them to toks. Comments and white
// space are dropped. The last token is always tkEOF.
func lex(src string, toks []token) ([]token, error) {
	i := 0
	for {
		next, ok := skipSpace(src, i)
		if !ok {
			e := newSyntaxError(src, next, "unterminated comment")
			e.Token = "/*"
			return toks, e
		}
		i = next
		if i >= len(src) {
			return append(toks, token{kind: tkEOF, pos: len(src), end: len(src)}), nil
		}
		tok, err := lexOne(src, i)
		if err != nil {
			return toks, err
		}
		toks = append(toks, tok)
		i = tok.end
	}
}

// skipSpace returns the index of the next token start at or after i, or
// the start of an unterminated block comment and false.
func skipSpace(src string, i int) (int, bool) {
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-', c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return i, false
			}
			i += 2 + end + 2
		default:
			return i, true
		}
	}
	return i, true
}

var punct = [256]tokenKind{
	'(': tkLParen, ')': tkRParen, '[': tkLBracket, ']': tkRBracket,
	'{': tkLBrace, '}': tkRBrace, ',': tkComma, ';': tkSemicolon,
	'.': tkDot, '*': tkStar, ':': tkColon, '=': tkEq, '?': tkQMark,
	'<': tkLt, '>': tkGt, '+': tkPlus, '-': tkMinus,
}

func lexOne(src string, i int) (token, error) {
	c := src[i]
	switch {
	case isHex(c) && uuidAt(src, i):
		return token{kind: tkUUID, pos: i, end: i + 36}, nil
	case isLetter(c):
		j := i + 1
		for j < len(src) && isIdentChar(src[j]) {
			j++
		}
		return token{kind: tkIdent, pos: i, end: j}, nil
	case isDigit(c):
		return lexNumber(src, i), nil
	case c == '\'':
		return lexQuoted(src, i, '\'', tkString)
	case c == '"':
		return lexQuoted(src, i, '"', tkQuotedID)
	case c == '$' && strings.HasPrefix(src[i:], "$$"):
		end := strings.Index(src[i+2:], "$$")
		if end < 0 {
			return token{}, newLexError(src, i, true)
		}
		return token{kind: tkString, pos: i, end: i + 2 + end + 2}, nil
	}
	if i+1 < len(src) && src[i+1] == '=' {
		switch c {
		case '!':
			return token{kind: tkNeq, pos: i, end: i + 2}, nil
		case '<':
			return token{kind: tkLte, pos: i, end: i + 2}, nil
		case '>':
			return token{kind: tkGte, pos: i, end: i + 2}, nil
		case '+':
			return token{kind: tkPlusEq, pos: i, end: i + 2}, nil
		case '-':
			return token{kind: tkMinusEq, pos: i, end: i + 2}, nil
		}
	}
	if k := punct[c]; k != tkEOF {
		return token{kind: k, pos: i, end: i + 1}, nil
	}
	return token{}, newLexError(src, i, false)
}

// lexQuoted scans a 'string' or "identifier" whose quote is doubled inside.
func lexQuoted(src string, i int, q byte, kind tokenKind) (token, error) {
	j := i + 1
	for j < len(src) {
		if src[j] == q {
			if j+1 < len(src) && src[j+1] == q {
				j += 2
				continue
			}
			return token{kind: kind, pos: i, end: j + 1}, nil
		}
		j++
	}
	return token{}, newLexError(src, i, true)
}

// lexNumber scans an integer, float, hex blob or duration starting with a
// digit at src[i].
func lexNumber(src string, i int) token {
	if src[i] == '0' && i+1 < len(src) && (src[i+1] == 'x' || src[i+1] == 'X') {
		j := i + 2
		for j < len(src) && isHex(src[j]) {
			j++
		}
		return token{kind: tkBlob, pos: i, end: j}
	}
	if end := durationEnd(src, i); end > 0 {
		return token{kind: tkDuration, pos: i, end: end}
	}
	j := digitsEnd(src, i)
	kind := tkInteger
	if j < len(src) && src[j] == '.' {
		kind = tkFloat
		j = digitsEnd(src, j+1)
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			kind = tkFloat
			j = digitsEnd(src, k)
		}
	}
	return token{kind: kind, pos: i, end: j}
}

func digitsEnd(src string, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}

// durationEnd returns the end of a duration literal such as 1h30m or 500ms
// starting at src[i], or 0 when there is none.
func durationEnd(src string, i int) int {
	j := i
	for j < len(src) && isDigit(src[j]) {
		j = digitsEnd(src, j)
		n := durationUnitLen(src[j:])
		if n == 0 {
			return 0
		}
		j += n
	}
	if j == i || (j < len(src) && isIdentChar(src[j])) {
		return 0
	}
	return j
}

// durationUnitLen returns the length of the duration unit that s starts
// with (y, mo, w, d, h, m, s, ms, us, µs, ns; any case), or 0.
func durationUnitLen(s string) int {
	if strings.HasPrefix(s, "µs") || strings.HasPrefix(s, "µS") {
		return len("µs")
	}
	if len(s) >= 2 {
		switch strings.ToLower(s[:2]) {
		case "mo", "ms", "us", "ns":
			return 2
		}
	}
	if len(s) >= 1 {
		switch s[0] | 0x20 {
		case 'y', 'w', 'd', 'h', 'm', 's':
			return 1
		}
	}
	return 0
}

// uuidAt reports whether an 8-4-4-4-12 hex UUID starts at src[i] and is not
// followed by an identifier character.
func uuidAt(src string, i int) bool {
	if len(src)-i < 36 {
		return false
	}
	for k := 0; k < 36; k++ {
		c := src[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return i+36 == len(src) || !isIdentChar(src[i+36])
}

func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isHex(c byte) bool    { return isDigit(c) || ((c|0x20) >= 'a' && (c|0x20) <= 'f') }
func isIdentChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '_'
}

// unquote decodes a string or quoted-identifier token's text.
func unquote(text string) string {
	if strings.HasPrefix(text, "$$") {
		return text[2 : len(text)-2]
	}
	q := text[0]
	body := text[1 : len(text)-1]
	if strings.IndexByte(body, q) < 0 {
		return body
	}
	return strings.ReplaceAll(body, string([]byte{q, q}), string(q))
}
