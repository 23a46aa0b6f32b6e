package cql

import "strings"

// term parses a value expression.
func (p *parser) term() Term {
	if !p.enter() {
		return nil
	}
	defer p.leave()
	t := p.tok()
	switch t.kind {
	case tkString:
		p.advance()
		return &Literal{Kind: LitString, Text: unquote(p.text(t))}
	case tkInteger:
		p.advance()
		return &Literal{Kind: LitInteger, Text: p.text(t)}
	case tkFloat:
		p.advance()
		return &Literal{Kind: LitFloat, Text: p.text(t)}
	case tkUUID:
		p.advance()
		return &Literal{Kind: LitUUID, Text: p.text(t)}
	case tkBlob:
		p.advance()
		return &Literal{Kind: LitBlob, Text: p.src[t.pos+2 : t.end]}
	case tkDuration:
		p.advance()
		return &Literal{Kind: LitDuration, Text: p.text(t)}
	case tkMinus:
		return p.negative()
	case tkQMark, tkColon:
		return p.bindMarker()
	case tkLBracket:
		p.advance()
		elems := p.termsUntil(tkRBracket, "]")
		return &ListLiteral{Elems: elems}
	case tkLBrace:
		return p.braceLiteral()
	case tkLParen:
		return p.parenTerm()
	case tkIdent, tkQuotedID:
		return p.wordTerm()
	}
	p.noViable()
	return nil
}

// negative parses '-' followed by a number or duration.
func (p *parser) negative() Term {
	minus := p.tok()
	p.advance()
	t := p.tok()
	var kind LiteralKind
	switch t.kind {
	case tkInteger:
		kind = LitInteger
	case tkFloat:
		kind = LitFloat
	case tkDuration:
		kind = LitDuration
	case tkIdent:
		switch strings.ToLower(p.text(t)) {
		case "nan":
			p.advance()
			return &Literal{Kind: LitFloat, Text: "NaN"}
		case "infinity":
			p.advance()
			return &Literal{Kind: LitFloat, Text: "-Infinity"}
		}
	}
	if kind == 0 {
		p.noViable()
		return nil
	}
	p.advance()
	if minus.end == t.pos {
		return &Literal{Kind: kind, Text: p.src[minus.pos:t.end]}
	}
	return &Literal{Kind: kind, Text: "-" + p.text(t)}
}

// bindMarker parses ? or :name and numbers it.
func (p *parser) bindMarker() Term {
	m := &BindMarker{Index: len(p.markers)}
	if !p.accept(tkQMark) {
		p.expect(tkColon, "?")
		// Any word may name a marker: the ':' already makes it unambiguous.
		m.Name = p.anyWord()
	}
	if p.err != nil {
		return nil
	}
	p.markers = append(p.markers, m)
	return m
}

// isMarker reports whether the current token starts a bind marker.
func (p *parser) isMarker() bool {
	k := p.tok().kind
	return k == tkQMark || k == tkColon
}

// termsUntil parses a possibly empty comma-separated term list and the
// closing token.
func (p *parser) termsUntil(closer tokenKind, closerText string) []Term {
	if p.accept(closer) {
		return nil
	}
	terms := commaList(p, p.term)
	p.expect(closer, "'"+closerText+"'")
	return terms
}

// braceLiteral parses {} as a map, set or UDT literal.
func (p *parser) braceLiteral() Term {
	p.advance()
	if p.accept(tkRBrace) {
		return &MapLiteral{}
	}
	if p.isIdentAt(0) && p.peekKind(1) == tkColon {
		return p.udtLiteral()
	}
	first := p.term()
	if !p.accept(tkColon) {
		elems := []Term{first}
		if p.accept(tkComma) {
			elems = append(elems, p.termsUntil(tkRBrace, "}")...)
		} else {
			p.expect(tkRBrace, "'}'")
		}
		return &SetLiteral{Elems: elems}
	}
	m := &MapLiteral{Entries: []MapEntry{{Key: first, Value: p.term()}}}
	for p.accept(tkComma) {
		k := p.term()
		p.expect(tkColon, "':'")
		m.Entries = append(m.Entries, MapEntry{Key: k, Value: p.term()})
	}
	p.expect(tkRBrace, "'}'")
	return m
}

func (p *parser) udtLiteral() Term {
	u := &UDTLiteral{Fields: commaList(p, func() UDTField {
		name := p.ident()
		p.expect(tkColon, "':'")
		return UDTField{Name: name, Value: p.term()}
	})}
	p.expect(tkRBrace, "'}'")
	return u
}

// parenTerm parses a type cast `(type) term` or a tuple literal.
func (p *parser) parenTerm() Term {
	p.advance()
	if p.startsTypeCast() {
		typ := p.typ()
		p.expect(tkRParen, "')'")
		return &TypeCast{Type: typ, Term: p.term()}
	}
	if p.tok().kind == tkRParen {
		p.noViable()
		return nil
	}
	return &TupleLiteral{Elems: p.termsUntil(tkRParen, ")")}
}

// startsTypeCast reports whether the tokens after '(' read as a type name
// closed by ')' (native types) or opened with '<' (parameterised types).
func (p *parser) startsTypeCast() bool {
	t := p.tok()
	if t.kind != tkIdent {
		return false
	}
	word := strings.ToLower(p.text(t))
	if _, ok := nativeTypes[word]; ok {
		return p.peekKind(1) == tkRParen
	}
	switch word {
	case "frozen", "list", "set", "map", "tuple":
		return p.peekKind(1) == tkLt
	}
	return false
}

// wordTerm parses a term that starts with a word: a keyword constant, an
// ISO 8601 duration or a function call.
func (p *parser) wordTerm() Term {
	t := p.tok()
	if t.kind == tkIdent {
		word := p.text(t)
		if lit := keywordLiteral(word); lit != nil {
			p.advance()
			return lit
		}
		if isISODuration(word) {
			p.advance()
			return &Literal{Kind: LitDuration, Text: word}
		}
	}
	if p.peekKind(1) == tkLParen || (p.peekKind(1) == tkDot && p.peekKind(3) == tkLParen) {
		return p.functionCall()
	}
	p.noViable()
	return nil
}

// keywordLiteral returns the constant a keyword stands for, or nil.
func keywordLiteral(word string) *Literal {
	switch {
	case strings.EqualFold(word, "true"):
		return &Literal{Kind: LitBool, Text: "true"}
	case strings.EqualFold(word, "false"):
		return &Literal{Kind: LitBool, Text: "false"}
	case strings.EqualFold(word, "null"):
		return &Literal{Kind: LitNull}
	case strings.EqualFold(word, "nan"):
		return &Literal{Kind: LitFloat, Text: "NaN"}
	case strings.EqualFold(word, "infinity"):
		return &Literal{Kind: LitFloat, Text: "Infinity"}
	}
	return nil
}

// functionName parses [keyspace.]name of a function; reserved words such as
// token are allowed because a '(' follows.
func (p *parser) functionName() (keyspace, name string) {
	name = p.anyWord()
	if p.accept(tkDot) {
		keyspace, name = name, p.anyWord()
	}
	return keyspace, name
}

// anyWord parses an identifier, reserved or not.
func (p *parser) anyWord() string {
	t := p.tok()
	switch t.kind {
	case tkIdent:
		p.advance()
		return strings.ToLower(p.text(t))
	case tkQuotedID:
		p.advance()
		return unquote(p.text(t))
	}
	p.mismatch("identifier")
	return ""
}

func (p *parser) functionCall() Term {
	ks, name := p.functionName()
	p.expect(tkLParen, "'('")
	return &FunctionCall{Keyspace: ks, Name: name, Args: p.termsUntil(tkRParen, ")")}
}

// isISODuration reports whether word is an ISO 8601 duration in designator
// form, such as P1Y2M3D or PT1H30M or P2W.
func isISODuration(word string) bool {
	if len(word) < 3 || (word[0]|0x20) != 'p' {
		return false
	}
	units, inTime, digits := "ymwd", false, false
	for i := 1; i < len(word); i++ {
		c := word[i] | 0x20
		switch {
		case isDigit(word[i]):
			digits = true
		case c == 't' && !inTime && !digits:
			units, inTime = "hms", true
		case digits && strings.IndexByte(units, c) >= 0:
			units = units[strings.IndexByte(units, c)+1:]
			digits = false
		default:
			return false
		}
	}
	return !digits && word[len(word)-1]|0x20 != 't'
}

// intOrMarker parses a LIMIT-like value: an integer literal or a marker.
func (p *parser) intOrMarker() Term {
	if p.tok().kind == tkInteger {
		return p.term()
	}
	if p.isMarker() {
		return p.bindMarker()
	}
	p.mismatch("INTEGER or ?")
	return nil
}

// durationOrMarker parses a USING TIMEOUT value.
func (p *parser) durationOrMarker() Term {
	if p.tok().kind == tkDuration || (p.tok().kind == tkIdent && isISODuration(p.text(p.tok()))) {
		return p.term()
	}
	if p.isMarker() {
		return p.bindMarker()
	}
	p.mismatch("DURATION or ?")
	return nil
}
