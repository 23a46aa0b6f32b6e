package cql

// Identifiers in the tree are normalised the way CQL compares them:
// unquoted identifiers are lower-cased, "quoted" ones keep their case with
// the "" escape resolved. A Keyspace left empty means "the session keyspace".

// Parsed is the result of ParseQuery: one statement and every bind marker it
// contains, in order of appearance (Markers[i].Index == i).
type Parsed struct {
	Statement Statement
	Markers   []*BindMarker
}

// NumMarkers returns how many bind values the statement expects.
func (p *Parsed) NumMarkers() int { return len(p.Markers) }

// Statement is one parsed CQL statement: one of the pointer types below.
type Statement interface{ statementNode() }

// TableName names a table, type or other keyspace-scoped object.
type TableName struct {
	Keyspace string // empty when not qualified
	Name     string
}

// String returns ks.name, or name when unqualified (identifiers unquoted).
func (n TableName) String() string {
	if n.Keyspace == "" {
		return n.Name
	}
	return n.Keyspace + "." + n.Name
}

// UseStatement is USE ks.
type UseStatement struct {
	Keyspace string
}

// Option is one `name = value` entry of a WITH clause. Value is a constant
// *Literal or a *MapLiteral (e.g. replication = {'class': ...}); a bare
// word (caching = keys_only) is a LitString.
type Option struct {
	Name  string
	Value Term
}

// CreateKeyspaceStatement is CREATE KEYSPACE [IF NOT EXISTS] ks WITH options.
type CreateKeyspaceStatement struct {
	Keyspace    string
	IfNotExists bool
	Options     []Option
}

// AlterKeyspaceStatement is ALTER KEYSPACE ks WITH options.
type AlterKeyspaceStatement struct {
	Keyspace string
	Options  []Option
}

// DropKeyspaceStatement is DROP KEYSPACE [IF EXISTS] ks.
type DropKeyspaceStatement struct {
	Keyspace string
	IfExists bool
}

// ColumnDef is one column of CREATE TABLE / ALTER TABLE ADD, or one field of
// CREATE TYPE (Static is then always false).
type ColumnDef struct {
	Name   string
	Type   *Type
	Static bool
}

// Ordering is a column with a direction, as in CLUSTERING ORDER BY and
// ORDER BY.
type Ordering struct {
	Column     string
	Descending bool
}

// CreateTableStatement is CREATE TABLE. The primary key, whether declared
// inline (`id uuid PRIMARY KEY`) or in a PRIMARY KEY clause, is resolved into
// PartitionKey and ClusteringKey. ClusteringOrder lists the columns given in
// WITH CLUSTERING ORDER BY, in the order written.
type CreateTableStatement struct {
	Table           TableName
	IfNotExists     bool
	Columns         []ColumnDef
	PartitionKey    []string
	ClusteringKey   []string
	ClusteringOrder []Ordering
	CompactStorage  bool
	Options         []Option
}

// AlterTableKind says which ALTER TABLE form was used.
type AlterTableKind uint8

// ALTER TABLE forms.
const (
	AlterTableAdd  AlterTableKind = iota + 1 // ADD col type | ADD (c1 t1, ...)
	AlterTableDrop                           // DROP col | DROP (c1, ...)
	AlterTableWith                           // WITH options
)

// AlterTableStatement is ALTER TABLE t ADD ... | DROP ... | WITH ....
type AlterTableStatement struct {
	Table   TableName
	Kind    AlterTableKind
	Add     []ColumnDef // AlterTableAdd
	Drop    []string    // AlterTableDrop
	Options []Option    // AlterTableWith
}

// DropTableStatement is DROP TABLE [IF EXISTS] t.
type DropTableStatement struct {
	Table    TableName
	IfExists bool
}

// TruncateStatement is TRUNCATE [TABLE] t.
type TruncateStatement struct {
	Table TableName
}

// CreateTypeStatement is CREATE TYPE [IF NOT EXISTS] ks.t (field type, ...).
type CreateTypeStatement struct {
	Type        TableName
	IfNotExists bool
	Fields      []ColumnDef
}

// DropTypeStatement is DROP TYPE [IF EXISTS] ks.t.
type DropTypeStatement struct {
	Type     TableName
	IfExists bool
}

// Using holds the USING clause of a statement; a nil field was not given.
// Each value is a *Literal or a *BindMarker (TTL/Timestamp integers,
// Timeout a duration).
type Using struct {
	TTL       Term
	Timestamp Term
	Timeout   Term
}

// InsertStatement is INSERT INTO t (cols) VALUES (terms) [IF NOT EXISTS]
// [USING ...]. Columns and Values have the same length.
type InsertStatement struct {
	Table   TableName
	Columns []string
	Values  []Term
	// JSON is the value of INSERT ... JSON (a string or a marker); Columns
	// and Values are empty then. DefaultUnset leaves the columns the
	// document omits untouched instead of writing null (DEFAULT UNSET).
	JSON         Term
	DefaultUnset bool
	IfNotExists  bool
	Using        Using
}

// AssignOp is the operation of one SET assignment.
type AssignOp uint8

// Assignment operations.
const (
	AssignSet     AssignOp = iota + 1 // c = v, m[k] = v, u.f = v
	AssignAdd                         // c = c + v, c += v (counters, collections)
	AssignPrepend                     // c = v + c (lists)
	AssignSub                         // c = c - v, c -= v
)

// Assignment is one element of UPDATE ... SET. Key is set for m[k] = v and
// l[idx] = v; Field for u.field = v.
type Assignment struct {
	Column string
	Key    Term
	Field  string
	Op     AssignOp
	Value  Term
}

// UpdateStatement is UPDATE t [USING ...] SET ... WHERE ... [IF ...].
type UpdateStatement struct {
	Table       TableName
	Using       Using
	Assignments []Assignment
	Where       []Relation
	IfExists    bool
	Conditions  []Condition
}

// Deletion is one target of DELETE: a column, an element m[k] / l[idx]
// (Key set) or a UDT field u.f (Field set).
type Deletion struct {
	Column string
	Key    Term
	Field  string
}

// DeleteStatement is DELETE [targets] FROM t [USING ...] WHERE ... [IF ...].
// An empty Columns deletes whole rows.
type DeleteStatement struct {
	Table      TableName
	Columns    []Deletion
	Using      Using
	Where      []Relation
	IfExists   bool
	Conditions []Condition
}

// BatchKind is the kind of a BEGIN ... BATCH.
type BatchKind uint8

// Batch kinds, numbered as in the native protocol's BATCH message.
const (
	BatchLogged   BatchKind = 0
	BatchUnlogged BatchKind = 1
	BatchCounter  BatchKind = 2
)

// BatchStatement is BEGIN [UNLOGGED|COUNTER] BATCH [USING ...] stmts APPLY
// BATCH. Statements holds *InsertStatement, *UpdateStatement and
// *DeleteStatement values; their markers share one index space.
type BatchStatement struct {
	Kind       BatchKind
	Using      Using
	Statements []Statement
}

// SelectStatement is a SELECT. Selectors is nil for SELECT *.
// PerPartitionLimit, Limit and Timeout are nil when absent, else a *Literal
// or a *BindMarker.
type SelectStatement struct {
	// JSON returns each row as one JSON object in a column named [json].
	JSON              bool
	Distinct          bool
	Selectors         []Selector
	Table             TableName
	Where             []Relation
	GroupBy           []string
	OrderBy           []Ordering
	PerPartitionLimit Term
	Limit             Term
	AllowFiltering    bool
	BypassCache       bool
	Timeout           Term
}

func (*UseStatement) statementNode()            {}
func (*CreateKeyspaceStatement) statementNode() {}
func (*AlterKeyspaceStatement) statementNode()  {}
func (*DropKeyspaceStatement) statementNode()   {}
func (*CreateTableStatement) statementNode()    {}
func (*AlterTableStatement) statementNode()     {}
func (*DropTableStatement) statementNode()      {}
func (*TruncateStatement) statementNode()       {}
func (*CreateTypeStatement) statementNode()     {}
func (*DropTypeStatement) statementNode()       {}
func (*InsertStatement) statementNode()         {}
func (*UpdateStatement) statementNode()         {}
func (*DeleteStatement) statementNode()         {}
func (*BatchStatement) statementNode()          {}
func (*SelectStatement) statementNode()         {}

// Selector is one element of a SELECT list, with its optional AS alias.
type Selector struct {
	Expr  Selectable
	Alias string
}

// Selectable is what a selector computes: one of the Select* types below.
type Selectable interface{ selectableNode() }

// SelectColumn selects a column; Field is set for u.field.
type SelectColumn struct {
	Name  string
	Field string
}

// SelectCount is COUNT(*) or COUNT(1).
type SelectCount struct{}

// SelectWriteTime is WRITETIME(col).
type SelectWriteTime struct {
	Column string
}

// SelectTTL is TTL(col).
type SelectTTL struct {
	Column string
}

// SelectFunction is a function call such as toTimestamp(col); Name is
// lower-cased unless quoted, Keyspace set when qualified (system.now()).
type SelectFunction struct {
	Keyspace string
	Name     string
	Args     []Selectable
}

// SelectCast is CAST(expr AS type).
type SelectCast struct {
	Expr Selectable
	Type *Type
}

// SelectTerm is a constant or bind marker used as a function argument.
type SelectTerm struct {
	Term Term
}

func (*SelectColumn) selectableNode()    {}
func (*SelectCount) selectableNode()     {}
func (*SelectWriteTime) selectableNode() {}
func (*SelectTTL) selectableNode()       {}
func (*SelectFunction) selectableNode()  {}
func (*SelectCast) selectableNode()      {}
func (*SelectTerm) selectableNode()      {}

// Operator is a comparison in WHERE relations and IF conditions.
type Operator uint8

// Operators.
const (
	OpEq          Operator = iota + 1 // =
	OpNeq                             // !=
	OpLt                              // <
	OpLte                             // <=
	OpGt                              // >
	OpGte                             // >=
	OpIn                              // IN
	OpContains                        // CONTAINS
	OpContainsKey                     // CONTAINS KEY
	OpLike                            // LIKE
)

var operatorNames = [...]string{
	OpEq: "=", OpNeq: "!=", OpLt: "<", OpLte: "<=", OpGt: ">", OpGte: ">=",
	OpIn: "IN", OpContains: "CONTAINS", OpContainsKey: "CONTAINS KEY", OpLike: "LIKE",
}

// String returns the operator as written in CQL.
func (o Operator) String() string {
	if int(o) < len(operatorNames) && operatorNames[o] != "" {
		return operatorNames[o]
	}
	return "?op"
}

// Relation is one WHERE restriction.
//
//   - col op v: Columns = [col], Value = v
//   - token(a, b) op v: Token = true, Columns = [a, b]
//   - (a, b) op v: Tuple = true, Columns = [a, b], Value a *TupleLiteral or *BindMarker
//   - col IN (v1, v2) / (a, b) IN ((..), (..)): Op = OpIn, Values = list
//   - col IN ?: Op = OpIn, Value = the marker, Values = nil
//   - col IN (): Op = OpIn, Value and Values both nil (matches nothing)
type Relation struct {
	Columns []string
	Token   bool
	Tuple   bool
	Op      Operator
	Value   Term
	Values  []Term
}

// Condition is one LWT IF condition: col op v, m[k] op v (Key set) or
// u.f op v (Field set); IN uses Values or a marker Value like Relation.
type Condition struct {
	Column string
	Key    Term
	Field  string
	Op     Operator
	Value  Term
	Values []Term
}

// Term is a value expression: one of the pointer types below.
type Term interface{ termNode() }

// LiteralKind classifies a constant.
type LiteralKind uint8

// Literal kinds.
const (
	LitString   LiteralKind = iota + 1 // 'text' or $$text$$; Text is unescaped
	LitInteger                         // 42, -7; Text keeps the sign
	LitFloat                           // 1.5, -2e10, NaN, Infinity, -Infinity
	LitBool                            // Text is "true" or "false"
	LitUUID                            // Text is the canonical 36-character form as written
	LitBlob                            // 0xCAFE; Text is the hex digits without 0x
	LitDuration                        // 1h30m, P1D, ...; Text as written
	LitNull                            // NULL
)

// Literal is a constant. Text is its source text, normalised per Kind; the
// engine converts it once the receiving type is known.
type Literal struct {
	Kind LiteralKind
	Text string
}

// BindMarker is `?` (Name empty) or `:name`. Index is its position among
// all markers of the statement (of the whole batch for batches).
type BindMarker struct {
	Index int
	Name  string
}

// FunctionCall is a function applied to terms: now(), uuid(),
// minTimeuuid(?), toTimestamp(now()), ...; Name is lower-cased unless quoted.
type FunctionCall struct {
	Keyspace string
	Name     string
	Args     []Term
}

// ListLiteral is [a, b, ...].
type ListLiteral struct {
	Elems []Term
}

// SetLiteral is {a, b, ...}.
type SetLiteral struct {
	Elems []Term
}

// MapEntry is one key: value pair of a MapLiteral.
type MapEntry struct {
	Key   Term
	Value Term
}

// MapLiteral is {k: v, ...}. An empty {} parses as an empty MapLiteral; it
// is also a valid empty set.
type MapLiteral struct {
	Entries []MapEntry
}

// UDTField is one field: value pair of a UDTLiteral.
type UDTField struct {
	Name  string
	Value Term
}

// UDTLiteral is {field: value, ...}, told apart from a map by its keys being
// identifiers rather than constants.
type UDTLiteral struct {
	Fields []UDTField
}

// TupleLiteral is (a, b, ...) with at least one element.
type TupleLiteral struct {
	Elems []Term
}

// TypeCast is a type hint `(type) term`, e.g. (int) ?.
type TypeCast struct {
	Type *Type
	Term Term
}

func (*Literal) termNode()      {}
func (*BindMarker) termNode()   {}
func (*FunctionCall) termNode() {}
func (*ListLiteral) termNode()  {}
func (*SetLiteral) termNode()   {}
func (*MapLiteral) termNode()   {}
func (*UDTLiteral) termNode()   {}
func (*TupleLiteral) termNode() {}
func (*TypeCast) termNode()     {}

// TypeKind identifies a CQL type.
type TypeKind uint8

// Type kinds. varchar parses as TypeText.
const (
	TypeAscii TypeKind = iota + 1
	TypeBigint
	TypeBlob
	TypeBoolean
	TypeCounter
	TypeDate
	TypeDecimal
	TypeDouble
	TypeDuration
	TypeFloat
	TypeInet
	TypeInt
	TypeSmallint
	TypeText
	TypeTime
	TypeTimestamp
	TypeTimeuuid
	TypeTinyint
	TypeUUID
	TypeVarint
	TypeList  // Elems[0] is the element type
	TypeSet   // Elems[0] is the element type
	TypeMap   // Elems[0] key, Elems[1] value
	TypeTuple // Elems are the component types
	TypeUDT   // Keyspace (may be empty) and Name
)

// Type is a CQL type. Frozen is set on the frozen<...> wrapper's content, so
// frozen<map<text, text>> is a TypeMap with Frozen true.
type Type struct {
	Kind     TypeKind
	Elems    []*Type
	Frozen   bool
	Keyspace string // TypeUDT only
	Name     string // TypeUDT only
}

var nativeTypeNames = [...]string{
	TypeAscii: "ascii", TypeBigint: "bigint", TypeBlob: "blob", TypeBoolean: "boolean",
	TypeCounter: "counter", TypeDate: "date", TypeDecimal: "decimal", TypeDouble: "double",
	TypeDuration: "duration", TypeFloat: "float", TypeInet: "inet", TypeInt: "int",
	TypeSmallint: "smallint", TypeText: "text", TypeTime: "time", TypeTimestamp: "timestamp",
	TypeTimeuuid: "timeuuid", TypeTinyint: "tinyint", TypeUUID: "uuid", TypeVarint: "varint",
	TypeList: "list", TypeSet: "set", TypeMap: "map", TypeTuple: "tuple",
}

// IsCollection reports whether t is a list, set or map.
func (t *Type) IsCollection() bool {
	return t.Kind == TypeList || t.Kind == TypeSet || t.Kind == TypeMap
}

// String returns the type the way system_schema.columns spells it, e.g.
// frozen<map<text, text>>; ParseType(t.String()) gives t back.
func (t *Type) String() string {
	b := make([]byte, 0, 16)
	return string(t.appendTo(b))
}

func (t *Type) appendTo(b []byte) []byte {
	if t.Frozen {
		b = append(b, "frozen<"...)
	}
	switch {
	case t.Kind == TypeUDT:
		if t.Keyspace != "" {
			b = append(appendIdent(b, t.Keyspace), '.')
		}
		b = appendIdent(b, t.Name)
	case int(t.Kind) < len(nativeTypeNames) && nativeTypeNames[t.Kind] != "":
		b = append(b, nativeTypeNames[t.Kind]...)
		if len(t.Elems) > 0 {
			b = append(b, '<')
			for i, e := range t.Elems {
				if i > 0 {
					b = append(b, ", "...)
				}
				b = e.appendTo(b)
			}
			b = append(b, '>')
		}
	default:
		b = append(b, "?type"...)
	}
	if t.Frozen {
		b = append(b, '>')
	}
	return b
}
