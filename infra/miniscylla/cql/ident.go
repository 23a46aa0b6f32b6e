package cql

// appendIdent appends name as a CQL identifier, quoting it when it would not
// read back unchanged unquoted (upper case, special characters, reserved
// keywords).
func appendIdent(b []byte, name string) []byte {
	if !needsQuoting(name) {
		return append(b, name...)
	}
	b = append(b, '"')
	for i := 0; i < len(name); i++ {
		if name[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, name[i])
	}
	return append(b, '"')
}

// QuoteIdent returns name as a CQL identifier, quoted only when needed.
func QuoteIdent(name string) string {
	return string(appendIdent(nil, name))
}

func needsQuoting(name string) bool {
	if name == "" {
		return true
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_' && i > 0:
		case c >= '0' && c <= '9' && i > 0:
		default:
			return true
		}
	}
	return isReserved(name)
}
