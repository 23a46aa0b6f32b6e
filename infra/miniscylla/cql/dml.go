package cql

import "strconv"

// insertStatement parses what follows INSERT.
func (p *parser) insertStatement() Statement {
	p.expectKw("into")
	s := &InsertStatement{Table: p.tableName()}
	if p.acceptKw("json") {
		s.JSON = p.term()
		if p.acceptKw("default") {
			switch {
			case p.acceptKw("unset"):
				s.DefaultUnset = true
			case !p.acceptKw("null"):
				p.invalid("DEFAULT must be followed by NULL or UNSET")
			}
		}
		s.IfNotExists = p.ifNotExists()
		p.using(&s.Using, true)
		return s
	}
	p.expect(tkLParen, "'('")
	s.Columns = p.identList()
	p.expect(tkRParen, "')'")
	p.expectKw("values")
	p.expect(tkLParen, "'('")
	s.Values = p.termsUntil(tkRParen, ")")
	if p.err == nil && len(s.Columns) != len(s.Values) {
		p.invalid("unmatched column names/values: " + strconv.Itoa(len(s.Columns)) +
			" columns, " + strconv.Itoa(len(s.Values)) + " values")
	}
	// Scylla's grammar puts IF NOT EXISTS first; accept either order.
	s.IfNotExists = p.ifNotExists()
	p.using(&s.Using, true)
	if !s.IfNotExists {
		s.IfNotExists = p.ifNotExists()
	}
	return s
}

// updateStatement parses what follows UPDATE.
func (p *parser) updateStatement() Statement {
	s := &UpdateStatement{Table: p.tableName()}
	p.using(&s.Using, true)
	p.expectKw("set")
	s.Assignments = commaList(p, p.assignment)
	p.expectKw("where")
	s.Where = p.relations()
	s.IfExists, s.Conditions = p.conditions()
	p.trailingTimeout(&s.Using)
	return s
}

// deleteStatement parses what follows DELETE.
func (p *parser) deleteStatement() Statement {
	s := &DeleteStatement{}
	if !p.isKw("from") {
		s.Columns = commaList(p, p.deletion)
	}
	p.expectKw("from")
	s.Table = p.tableName()
	p.using(&s.Using, false)
	p.expectKw("where")
	s.Where = p.relations()
	s.IfExists, s.Conditions = p.conditions()
	p.trailingTimeout(&s.Using)
	return s
}

// batchStatement parses what follows BEGIN.
func (p *parser) batchStatement() Statement {
	s := &BatchStatement{Kind: BatchLogged}
	switch {
	case p.acceptKw("unlogged"):
		s.Kind = BatchUnlogged
	case p.acceptKw("counter"):
		s.Kind = BatchCounter
	}
	p.expectKw("batch")
	p.using(&s.Using, true)
	for p.err == nil && !p.isKw("apply") {
		var stmt Statement
		switch {
		case p.acceptKw("insert"):
			stmt = p.insertStatement()
		case p.acceptKw("update"):
			stmt = p.updateStatement()
		case p.acceptKw("delete"):
			stmt = p.deleteStatement()
		default:
			p.mismatch("INSERT, UPDATE, DELETE or APPLY")
		}
		if p.err == nil {
			s.Statements = append(s.Statements, stmt)
		}
		p.accept(tkSemicolon)
	}
	p.expectKw("apply")
	p.expectKw("batch")
	return s
}

// using parses an optional USING clause into u. TTL is allowed only when
// withTTL (DELETE takes TIMESTAMP and TIMEOUT only).
func (p *parser) using(u *Using, withTTL bool) {
	if !p.acceptKw("using") {
		return
	}
	for {
		switch {
		case withTTL && u.TTL == nil && p.acceptKw("ttl"):
			u.TTL = p.intOrMarker()
		case u.Timestamp == nil && p.acceptKw("timestamp"):
			u.Timestamp = p.intOrMarker()
		case u.Timeout == nil && p.acceptKw("timeout"):
			u.Timeout = p.durationOrMarker()
		default:
			p.mismatch("TTL, TIMESTAMP or TIMEOUT")
		}
		if !p.acceptKw("and") {
			return
		}
	}
}

// trailingTimeout accepts a USING TIMEOUT after the WHERE/IF clauses, where
// drivers append it to any statement.
func (p *parser) trailingTimeout(u *Using) {
	if u.Timeout != nil || !p.acceptKw("using") {
		return
	}
	p.expectKw("timeout")
	u.Timeout = p.durationOrMarker()
}

// assignment parses one SET element.
func (p *parser) assignment() Assignment {
	a := Assignment{Column: p.ident(), Op: AssignSet}
	switch {
	case p.accept(tkLBracket):
		a.Key = p.term()
		p.expect(tkRBracket, "']'")
	case p.accept(tkDot):
		a.Field = p.ident()
	case p.accept(tkPlusEq):
		a.Op, a.Value = AssignAdd, p.term()
		return a
	case p.accept(tkMinusEq):
		a.Op, a.Value = AssignSub, p.term()
		return a
	}
	p.expect(tkEq, "'='")
	if a.Key != nil || a.Field != "" {
		a.Value = p.term()
		return a
	}
	// c = c + v and c = c - v start with the column itself.
	if p.isIdentAt(0) && (p.peekKind(1) == tkPlus || p.peekKind(1) == tkMinus) {
		p.sameColumn(a.Column)
		a.Op = AssignAdd
		if p.tok().kind == tkMinus {
			a.Op = AssignSub
		}
		p.advance()
		a.Value = p.term()
		return a
	}
	a.Value = p.term()
	if p.accept(tkPlus) {
		p.sameColumn(a.Column)
		a.Op = AssignPrepend
	}
	return a
}

// sameColumn parses the column named on the right of c = c + v or
// c = v + c and checks it is c.
func (p *parser) sameColumn(col string) {
	if other := p.ident(); p.err == nil && other != col {
		p.invalid("only expressions of the form X = X + <value> or X = <value> + X are supported, got " +
			col + " = " + other)
	}
}

// deletion parses one DELETE target.
func (p *parser) deletion() Deletion {
	d := Deletion{Column: p.ident()}
	switch {
	case p.accept(tkLBracket):
		d.Key = p.term()
		p.expect(tkRBracket, "']'")
	case p.accept(tkDot):
		d.Field = p.ident()
	}
	return d
}

// conditions parses an optional IF EXISTS or IF cond AND cond ....
func (p *parser) conditions() (ifExists bool, conds []Condition) {
	if !p.acceptKw("if") {
		return false, nil
	}
	if p.acceptKw("exists") {
		return true, nil
	}
	for {
		c := Condition{Column: p.ident()}
		switch {
		case p.accept(tkLBracket):
			c.Key = p.term()
			p.expect(tkRBracket, "']'")
		case p.accept(tkDot):
			c.Field = p.ident()
		}
		c.Op = p.operator()
		c.Value, c.Values = p.operand(c.Op)
		conds = append(conds, c)
		if !p.acceptKw("and") {
			return false, conds
		}
	}
}
