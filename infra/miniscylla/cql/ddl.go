package cql

import "strings"

// createStatement parses what follows CREATE.
func (p *parser) createStatement() Statement {
	switch {
	case p.acceptKw("keyspace"), p.acceptKw("schema"):
		s := &CreateKeyspaceStatement{IfNotExists: p.ifNotExists()}
		s.Keyspace = p.ident()
		p.expectKw("with")
		s.Options = p.options()
		return s
	case p.acceptKw("table"), p.acceptKw("columnfamily"):
		return p.createTable()
	case p.acceptKw("type"):
		s := &CreateTypeStatement{IfNotExists: p.ifNotExists()}
		s.Type = p.tableName()
		p.expect(tkLParen, "'('")
		s.Fields = commaList(p, func() ColumnDef { return ColumnDef{Name: p.ident(), Type: p.typ()} })
		p.expect(tkRParen, "')'")
		return s
	}
	p.unsupportedObject("CREATE")
	return nil
}

// unsupportedObject reports a known statement on an object kind miniscylla
// does not implement (CREATE INDEX, DROP MATERIALIZED VIEW, ...), or a
// syntax error for an unknown one.
func (p *parser) unsupportedObject(verb string) {
	if p.acceptKw("or") {
		p.expectKw("replace")
	}
	p.acceptKw("custom")
	for _, kind := range [...]string{"index", "materialized", "function", "aggregate",
		"role", "user", "trigger", "type", "service", "view"} {
		if p.isKw(kind) {
			what := verb + " " + strings.ToUpper(kind)
			if kind == "materialized" {
				what += " VIEW"
			}
			p.unsupported(what)
			return
		}
	}
	p.noViable()
}

// createTable parses what follows CREATE TABLE.
func (p *parser) createTable() Statement {
	s := &CreateTableStatement{IfNotExists: p.ifNotExists()}
	s.Table = p.tableName()
	p.expect(tkLParen, "'('")
	pkSeen := false
	for {
		if p.acceptKw("primary") {
			p.expectKw("key")
			p.primaryKey(s, pkSeen)
			pkSeen = true
		} else {
			col := ColumnDef{Name: p.ident(), Type: p.typ()}
			col.Static = p.acceptKw("static")
			if p.acceptKw("primary") {
				p.expectKw("key")
				if pkSeen {
					p.invalid("multiple PRIMARY KEYs specified (exactly one required)")
				}
				pkSeen = true
				s.PartitionKey = []string{col.Name}
			}
			s.Columns = append(s.Columns, col)
		}
		if !p.accept(tkComma) || p.tok().kind == tkRParen {
			break
		}
	}
	p.expect(tkRParen, "')'")
	if p.err == nil && !pkSeen {
		p.invalid("no PRIMARY KEY specified (exactly one required)")
	}
	if p.acceptKw("with") {
		p.tableOptions(s)
	}
	return s
}

// primaryKey parses the ( ... ) of a PRIMARY KEY clause.
func (p *parser) primaryKey(s *CreateTableStatement, seen bool) {
	if seen {
		p.invalid("multiple PRIMARY KEYs specified (exactly one required)")
		return
	}
	p.expect(tkLParen, "'('")
	if p.accept(tkLParen) {
		s.PartitionKey = p.identList()
		p.expect(tkRParen, "')'")
	} else {
		s.PartitionKey = []string{p.ident()}
	}
	if p.accept(tkComma) {
		s.ClusteringKey = p.identList()
	}
	p.expect(tkRParen, "')'")
}

// tableOptions parses the WITH clause of CREATE TABLE, which mixes
// CLUSTERING ORDER BY and COMPACT STORAGE with name = value options.
func (p *parser) tableOptions(s *CreateTableStatement) {
	for {
		switch {
		case p.isKw("clustering") && p.isKwAt(1, "order"):
			p.advance()
			p.advance()
			p.expectKw("by")
			p.expect(tkLParen, "'('")
			s.ClusteringOrder = append(s.ClusteringOrder, p.orderings()...)
			p.expect(tkRParen, "')'")
		case p.isKw("compact") && p.isKwAt(1, "storage"):
			p.advance()
			p.advance()
			s.CompactStorage = true
		default:
			s.Options = append(s.Options, p.option())
		}
		if !p.acceptKw("and") {
			return
		}
	}
}

// options parses name = value (AND name = value)*.
func (p *parser) options() []Option {
	var opts []Option
	for {
		opts = append(opts, p.option())
		if !p.acceptKw("and") {
			return opts
		}
	}
}

// option parses name = value where value is a constant, a map literal or
// an unreserved word (taken as a string, e.g. caching = keys_only).
func (p *parser) option() Option {
	o := Option{Name: p.ident()}
	p.expect(tkEq, "'='")
	t := p.tok()
	if t.kind == tkIdent && keywordLiteral(p.text(t)) == nil && p.peekKind(1) != tkLParen {
		o.Value = &Literal{Kind: LitString, Text: p.ident()}
		return o
	}
	o.Value = p.term()
	switch o.Value.(type) {
	case *Literal, *MapLiteral:
	default:
		p.invalid("property '" + o.Name + "' must be a constant or a map literal")
	}
	return o
}

// alterStatement parses what follows ALTER.
func (p *parser) alterStatement() Statement {
	switch {
	case p.acceptKw("keyspace"), p.acceptKw("schema"):
		s := &AlterKeyspaceStatement{Keyspace: p.ident()}
		p.expectKw("with")
		s.Options = p.options()
		return s
	case p.acceptKw("table"), p.acceptKw("columnfamily"):
		return p.alterTable()
	}
	p.unsupportedObject("ALTER")
	return nil
}

func (p *parser) alterTable() Statement {
	s := &AlterTableStatement{Table: p.tableName()}
	switch {
	case p.acceptKw("add"):
		s.Kind = AlterTableAdd
		paren := p.accept(tkLParen)
		for {
			col := ColumnDef{Name: p.ident(), Type: p.typ()}
			col.Static = p.acceptKw("static")
			s.Add = append(s.Add, col)
			if !paren || !p.accept(tkComma) {
				break
			}
		}
		if paren {
			p.expect(tkRParen, "')'")
		}
	case p.acceptKw("drop"):
		s.Kind = AlterTableDrop
		if p.accept(tkLParen) {
			s.Drop = p.identList()
			p.expect(tkRParen, "')'")
		} else {
			s.Drop = []string{p.ident()}
		}
	case p.acceptKw("with"):
		s.Kind = AlterTableWith
		s.Options = p.options()
	case p.isKw("alter"), p.isKw("rename"):
		p.unsupported("ALTER TABLE ... " + strings.ToUpper(p.text(p.tok())))
	default:
		p.mismatch("ADD, DROP or WITH")
	}
	return s
}

// dropStatement parses what follows DROP.
func (p *parser) dropStatement() Statement {
	switch {
	case p.acceptKw("keyspace"), p.acceptKw("schema"):
		s := &DropKeyspaceStatement{IfExists: p.ifExists()}
		s.Keyspace = p.ident()
		return s
	case p.acceptKw("table"), p.acceptKw("columnfamily"):
		s := &DropTableStatement{IfExists: p.ifExists()}
		s.Table = p.tableName()
		return s
	case p.acceptKw("type"):
		s := &DropTypeStatement{IfExists: p.ifExists()}
		s.Type = p.tableName()
		return s
	}
	p.unsupportedObject("DROP")
	return nil
}
