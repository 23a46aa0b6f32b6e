package cql

// selectStatement parses what follows SELECT.
func (p *parser) selectStatement() Statement {
	s := &SelectStatement{}
	if p.isKw("json") && !p.isSelectorEnd(1) {
		p.advance()
		s.JSON = true
	}
	if p.isKw("distinct") && !p.isSelectorEnd(1) {
		p.advance()
		s.Distinct = true
	}
	if !p.accept(tkStar) {
		s.Selectors = p.selectors()
	}
	p.expectKw("from")
	s.Table = p.tableName()
	if p.acceptKw("where") {
		s.Where = p.relations()
	}
	if p.acceptKw("group") {
		p.expectKw("by")
		s.GroupBy = p.identList()
	}
	if p.acceptKw("order") {
		p.expectKw("by")
		s.OrderBy = p.orderings()
	}
	if p.acceptKw("per") {
		p.expectKw("partition")
		p.expectKw("limit")
		s.PerPartitionLimit = p.intOrMarker()
	}
	if p.acceptKw("limit") {
		s.Limit = p.intOrMarker()
	}
	if p.acceptKw("allow") {
		p.expectKw("filtering")
		s.AllowFiltering = true
	}
	if p.acceptKw("bypass") {
		p.expectKw("cache")
		s.BypassCache = true
	}
	if p.acceptKw("using") {
		p.expectKw("timeout")
		s.Timeout = p.durationOrMarker()
	}
	return s
}

// isSelectorEnd reports whether the token n ahead ends a selector, which
// makes a preceding JSON or DISTINCT a column name rather than a modifier.
func (p *parser) isSelectorEnd(n int) bool {
	k := p.peekKind(n)
	return k == tkComma || k == tkLParen || p.isKwAt(n, "from") || p.isKwAt(n, "as")
}

func (p *parser) selectors() []Selector {
	return commaList(p, func() Selector {
		sel := Selector{Expr: p.selectable()}
		if p.acceptKw("as") {
			sel.Alias = p.ident()
		}
		return sel
	})
}

// selectable parses one selector expression.
func (p *parser) selectable() Selectable {
	if !p.enter() {
		return nil
	}
	defer p.leave()
	t := p.tok()
	if t.kind != tkIdent && t.kind != tkQuotedID {
		return &SelectTerm{Term: p.term()}
	}
	if t.kind == tkIdent && keywordLiteral(p.text(t)) != nil {
		return &SelectTerm{Term: p.term()}
	}
	switch {
	case p.peekKind(1) == tkLParen && t.kind == tkIdent:
		return p.selectCall()
	case p.peekKind(1) == tkLParen, p.peekKind(1) == tkDot && p.peekKind(3) == tkLParen:
		return p.selectFunction()
	}
	col := &SelectColumn{Name: p.ident()}
	if p.accept(tkDot) {
		col.Field = p.ident()
	}
	return col
}

// selectCall parses word(...): the special forms COUNT, WRITETIME, TTL and
// CAST, or an ordinary function.
func (p *parser) selectCall() Selectable {
	switch {
	case p.isKw("count") && (p.peekKind(2) == tkStar || (p.peekKind(2) == tkInteger && p.text(p.toks[p.i+2]) == "1")):
		p.advance()
		p.advance()
		p.advance()
		p.expect(tkRParen, "')'")
		return &SelectCount{}
	case p.isKw("writetime"):
		return &SelectWriteTime{Column: p.columnArg()}
	case p.isKw("ttl"):
		return &SelectTTL{Column: p.columnArg()}
	case p.isKw("cast"):
		p.advance()
		p.advance()
		c := &SelectCast{Expr: p.selectable()}
		p.expectKw("as")
		c.Type = p.typ()
		p.expect(tkRParen, "')'")
		return c
	}
	return p.selectFunction()
}

// columnArg parses word(column) and returns the column.
func (p *parser) columnArg() string {
	p.advance()
	p.advance()
	col := p.ident()
	p.expect(tkRParen, "')'")
	return col
}

func (p *parser) selectFunction() Selectable {
	ks, name := p.functionName()
	f := &SelectFunction{Keyspace: ks, Name: name}
	p.expect(tkLParen, "'('")
	if p.accept(tkRParen) {
		return f
	}
	f.Args = commaList(p, p.selectable)
	p.expect(tkRParen, "')'")
	return f
}

// orderings parses col [ASC|DESC] (, col [ASC|DESC])*.
func (p *parser) orderings() []Ordering {
	return commaList(p, func() Ordering {
		o := Ordering{Column: p.ident()}
		if p.acceptKw("desc") {
			o.Descending = true
		} else {
			p.acceptKw("asc")
		}
		return o
	})
}

// relations parses WHERE relations joined by AND.
func (p *parser) relations() []Relation {
	var rels []Relation
	for {
		rels = append(rels, p.relation())
		if !p.acceptKw("and") {
			return rels
		}
	}
}

func (p *parser) relation() Relation {
	var r Relation
	switch {
	case p.isKw("token") && p.peekKind(1) == tkLParen:
		p.advance()
		p.advance()
		r.Token = true
		r.Columns = p.identList()
		p.expect(tkRParen, "')'")
	case p.accept(tkLParen):
		r.Tuple = true
		r.Columns = p.identList()
		p.expect(tkRParen, "')'")
	default:
		r.Columns = []string{p.ident()}
	}
	r.Op = p.operator()
	r.Value, r.Values = p.operand(r.Op)
	return r
}

// operator parses a relation or condition operator.
func (p *parser) operator() Operator {
	t := p.tok()
	var op Operator
	switch t.kind {
	case tkEq:
		op = OpEq
	case tkNeq:
		op = OpNeq
	case tkLt:
		op = OpLt
	case tkLte:
		op = OpLte
	case tkGt:
		op = OpGt
	case tkGte:
		op = OpGte
	case tkIdent:
		switch {
		case p.isKw("in"):
			op = OpIn
		case p.isKw("like"):
			op = OpLike
		case p.isKw("contains"):
			p.advance()
			if p.acceptKw("key") {
				return OpContainsKey
			}
			return OpContains
		}
	}
	if op == 0 {
		p.mismatch("operator")
		return 0
	}
	p.advance()
	return op
}

// operand parses the right side of op: for IN either a marker (value) or a
// parenthesised list (values), otherwise a term.
func (p *parser) operand(op Operator) (Term, []Term) {
	if op != OpIn {
		return p.term(), nil
	}
	if p.isMarker() {
		return p.bindMarker(), nil
	}
	p.expect(tkLParen, "'(' or ?")
	return nil, p.termsUntil(tkRParen, ")")
}
