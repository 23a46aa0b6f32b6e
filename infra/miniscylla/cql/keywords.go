package cql

// isReserved reports whether the lower-case word is a reserved CQL keyword
// (ScyllaDB's list, plus the boolean constants), which must be quoted to be
// used as an identifier. Every other keyword (key, type, time, ttl, count,
// values, ...) is also a valid identifier: system tables have columns named
// that way.
func isReserved(word string) bool {
	switch word {
	case "add", "allow", "alter", "and", "apply", "asc", "authorize", "batch",
		"begin", "by", "columnfamily", "create", "delete", "desc", "describe",
		"drop", "entries", "execute", "from", "full", "grant", "if", "in",
		"index", "infinity", "insert", "into", "keyspace", "limit", "modify",
		"nan", "norecursive", "not", "null", "of", "on", "or", "order",
		"primary", "rename", "revoke", "schema", "select", "set", "table",
		"to", "token", "truncate", "unlogged", "update", "use", "using",
		"where", "with", "true", "false":
		return true
	}
	return false
}
