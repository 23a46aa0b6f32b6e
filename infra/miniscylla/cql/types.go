package cql

import "strings"

var nativeTypes = map[string]TypeKind{
	"ascii": TypeAscii, "bigint": TypeBigint, "blob": TypeBlob, "boolean": TypeBoolean,
	"counter": TypeCounter, "date": TypeDate, "decimal": TypeDecimal, "double": TypeDouble,
	"duration": TypeDuration, "float": TypeFloat, "inet": TypeInet, "int": TypeInt,
	"smallint": TypeSmallint, "text": TypeText, "varchar": TypeText, "time": TypeTime,
	"timestamp": TypeTimestamp, "timeuuid": TypeTimeuuid, "tinyint": TypeTinyint,
	"uuid": TypeUUID, "varint": TypeVarint,
}

// ParseType parses a CQL type such as `frozen<map<text, text>>`, as written
// in DDL or stored in system_schema.columns.type.
func ParseType(s string) (*Type, error) {
	p := &parser{src: s}
	toks, err := lex(s, p.buf[:0])
	if err != nil {
		return nil, err
	}
	p.toks = toks
	t := p.typ()
	if p.err == nil && p.tok().kind != tkEOF {
		p.mismatch("EOF")
	}
	if p.err != nil {
		return nil, p.err
	}
	return t, nil
}

// typ parses a type name.
func (p *parser) typ() *Type {
	if !p.enter() {
		return nil
	}
	defer p.leave()
	t := p.tok()
	if t.kind == tkIdent {
		word := strings.ToLower(p.text(t))
		if kind, ok := nativeTypes[word]; ok {
			p.advance()
			return &Type{Kind: kind}
		}
		switch word {
		case "frozen":
			p.advance()
			p.expect(tkLt, "'<'")
			inner := p.typ()
			p.expect(tkGt, "'>'")
			if inner != nil {
				inner.Frozen = true
			}
			return inner
		case "list":
			return p.paramType(TypeList, 1)
		case "set":
			return p.paramType(TypeSet, 1)
		case "map":
			return p.paramType(TypeMap, 2)
		case "tuple":
			return p.paramType(TypeTuple, -1)
		}
	}
	if !p.isIdentAt(0) {
		p.mismatch("type")
		return nil
	}
	name := p.tableName()
	return &Type{Kind: TypeUDT, Keyspace: name.Keyspace, Name: name.Name}
}

// paramType parses name<T, ...> with n parameters (n < 0: one or more).
func (p *parser) paramType(kind TypeKind, n int) *Type {
	p.advance()
	p.expect(tkLt, "'<'")
	t := &Type{Kind: kind, Elems: commaList(p, p.typ)}
	if n >= 0 && len(t.Elems) != n && p.err == nil {
		p.fail("wrong number of type parameters at input '%t'")
	}
	p.expect(tkGt, "'>'")
	return t
}
