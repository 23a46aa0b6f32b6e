package cql

import "strings"

// Parse parses one CQL statement (an optional trailing ';' is allowed).
func Parse(query string) (Statement, error) {
	p, err := ParseQuery(query)
	if err != nil {
		return nil, err
	}
	return p.Statement, nil
}

// ParseQuery parses one CQL statement and also returns its bind markers.
// Errors are *SyntaxError, *UnsupportedError or *InvalidError.
func ParseQuery(query string) (*Parsed, error) {
	p := &parser{src: query}
	toks, err := lex(query, p.buf[:0])
	if err != nil {
		return nil, err
	}
	p.toks = toks
	stmt := p.statement()
	p.accept(tkSemicolon)
	if p.err == nil && p.tok().kind != tkEOF {
		p.mismatch("EOF")
	}
	if p.err != nil {
		return nil, p.err
	}
	return &Parsed{Statement: stmt, Markers: p.markers}, nil
}

// parser is a recursive-descent parser over a token slice. Errors are
// sticky: after the first one every helper stops consuming input and
// returns zero values, so rules need not check errors after each step, and
// every loop ends because accept fails once p.err is set.
type parser struct {
	src     string
	toks    []token
	i       int
	markers []*BindMarker
	err     error
	depth   int       // nesting of terms, selectors and types
	buf     [64]token // backing store for the tokens of typical statements
}

var eofToken = token{kind: tkEOF}

// tok returns the current token, or EOF once an error occurred.
func (p *parser) tok() token {
	if p.err != nil {
		return eofToken
	}
	return p.toks[p.i]
}

// peekKind returns the kind of the token n places after the current one.
func (p *parser) peekKind(n int) tokenKind {
	if p.err != nil || p.i+n >= len(p.toks) {
		return tkEOF
	}
	return p.toks[p.i+n].kind
}

func (p *parser) text(t token) string { return p.src[t.pos:t.end] }

func (p *parser) advance() {
	if p.err == nil && p.toks[p.i].kind != tkEOF {
		p.i++
	}
}

// accept consumes the current token if it is of kind k.
func (p *parser) accept(k tokenKind) bool {
	if p.tok().kind != k || p.err != nil {
		return false
	}
	p.advance()
	return true
}

func (p *parser) expect(k tokenKind, what string) {
	if !p.accept(k) {
		p.mismatch(what)
	}
}

// isKw reports whether the current token is the keyword kw (lower case).
func (p *parser) isKw(kw string) bool {
	return p.isKwAt(0, kw)
}

func (p *parser) isKwAt(n int, kw string) bool {
	if p.err != nil || p.i+n >= len(p.toks) {
		return false
	}
	t := p.toks[p.i+n]
	return t.kind == tkIdent && strings.EqualFold(p.text(t), kw)
}

func (p *parser) acceptKw(kw string) bool {
	if !p.isKw(kw) {
		return false
	}
	p.advance()
	return true
}

func (p *parser) expectKw(kw string) {
	if !p.acceptKw(kw) {
		p.mismatch(strings.ToUpper(kw))
	}
}

// tokenText is the current token as quoted in error messages.
func (p *parser) tokenText() string {
	t := p.toks[p.i]
	if t.kind == tkEOF {
		return "<EOF>"
	}
	s := p.text(t)
	if len(s) > maxTokenText {
		s = s[:maxTokenText]
	}
	return s
}

// fail records a syntax error at the current token unless one is set.
func (p *parser) fail(msg string) {
	if p.err != nil {
		return
	}
	tok := p.tokenText()
	e := newSyntaxError(p.src, p.toks[p.i].pos, strings.ReplaceAll(msg, "%t", tok))
	e.Token = tok
	p.err = e
}

// mismatch reports that the current token is not what the rule expected.
func (p *parser) mismatch(expected string) {
	p.fail("mismatched input '%t' expecting " + expected)
}

// noViable reports that no rule starts with the current token.
func (p *parser) noViable() {
	p.fail("no viable alternative at input '%t'")
}

func (p *parser) unsupported(what string) {
	if p.err == nil {
		p.err = &UnsupportedError{What: what}
	}
}

func (p *parser) invalid(msg string) {
	if p.err == nil {
		p.err = &InvalidError{Msg: msg}
	}
}

// maxDepth bounds the nesting of terms, selectors and types, so hostile
// input such as 100k '[' cannot exhaust the stack.
const maxDepth = 100

// enter counts one level of nesting; callers must defer p.leave() when it
// returns true.
func (p *parser) enter() bool {
	if p.depth >= maxDepth {
		p.fail("nesting too deep at input '%t'")
		return false
	}
	p.depth++
	return true
}

func (p *parser) leave() { p.depth-- }

// ident parses an identifier: a quoted one, or an unquoted word that is not
// a reserved keyword.
func (p *parser) ident() string {
	t := p.tok()
	switch t.kind {
	case tkQuotedID:
		p.advance()
		return unquote(p.text(t))
	case tkIdent:
		name := strings.ToLower(p.text(t))
		if !isReserved(name) {
			p.advance()
			return name
		}
	}
	p.mismatch("identifier")
	return ""
}

// isIdentAt reports whether the token n places ahead can be an identifier.
func (p *parser) isIdentAt(n int) bool {
	if p.err != nil || p.i+n >= len(p.toks) {
		return false
	}
	t := p.toks[p.i+n]
	switch t.kind {
	case tkQuotedID:
		return true
	case tkIdent:
		return !isReserved(strings.ToLower(p.text(t)))
	}
	return false
}

// tableName parses [keyspace.]name.
func (p *parser) tableName() TableName {
	first := p.ident()
	if p.accept(tkDot) {
		return TableName{Keyspace: first, Name: p.ident()}
	}
	return TableName{Name: first}
}

// identList parses ident (, ident)*.
func (p *parser) identList() []string {
	return commaList(p, p.ident)
}

// commaList parses item (, item)*.
func commaList[T any](p *parser, item func() T) []T {
	var out []T
	for {
		out = append(out, item())
		if !p.accept(tkComma) {
			return out
		}
	}
}

// ifNotExists parses an optional IF NOT EXISTS.
func (p *parser) ifNotExists() bool {
	if !p.acceptKw("if") {
		return false
	}
	p.expectKw("not")
	p.expectKw("exists")
	return true
}

// ifExists parses an optional IF EXISTS.
func (p *parser) ifExists() bool {
	if !p.acceptKw("if") {
		return false
	}
	p.expectKw("exists")
	return true
}

// statement dispatches on the leading keyword.
func (p *parser) statement() Statement {
	switch {
	case p.acceptKw("select"):
		return p.selectStatement()
	case p.acceptKw("insert"):
		return p.insertStatement()
	case p.acceptKw("update"):
		return p.updateStatement()
	case p.acceptKw("delete"):
		return p.deleteStatement()
	case p.acceptKw("begin"):
		return p.batchStatement()
	case p.acceptKw("use"):
		return &UseStatement{Keyspace: p.ident()}
	case p.acceptKw("create"):
		return p.createStatement()
	case p.acceptKw("alter"):
		return p.alterStatement()
	case p.acceptKw("drop"):
		return p.dropStatement()
	case p.acceptKw("truncate"):
		if !p.acceptKw("table") {
			p.acceptKw("columnfamily")
		}
		return &TruncateStatement{Table: p.tableName()}
	case p.isKw("grant"), p.isKw("revoke"), p.isKw("list"):
		// Permission and role management: LIST ROLES, GRANT ..., REVOKE ...
		p.unsupported(strings.ToUpper(p.text(p.tok())) + " statements")
		return nil
	default:
		// DESCRIBE lands here on purpose: gocql tolerates only a SYNTAX
		// error for `DESCRIBE KEYSPACE ks WITH INTERNALS`.
		p.noViable()
		return nil
	}
}
