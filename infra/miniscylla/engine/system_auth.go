package engine

// The system_auth keyspace: its roles table lists the roles the server
// authenticates, so that drivers and tools reading it (as they do on a
// ScyllaDB with PasswordAuthenticator) find them. Without authentication it
// is empty, as on a ScyllaDB running AllowAllAuthenticator.

const ksSystemAuth = "system_auth"

// Role is one row of system_auth.roles.
type Role struct {
	Name        string
	CanLogin    bool
	IsSuperuser bool
	MemberOf    []string
	// SaltedHash is the stored password hash; never the plaintext.
	SaltedHash string
}

// systemAuthKeyspace builds system_auth with an empty roles table; SetRoles fills it.
func systemAuthKeyspace() *Keyspace {
	k := newKeyspace(ksSystemAuth, map[string]string{
		"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "1",
	})
	k.system = true
	k.Tables["roles"] = virtualTable(ksSystemAuth, "roles", cols(colDef{"role", tText}), nil, cols(
		colDef{"can_login", tBool}, colDef{"is_superuser", tBool}, colDef{"member_of", tTextSet},
		colDef{"salted_hash", tText},
	), noRows)
	return k
}

// SetRoles replaces the rows of system_auth.roles. The server calls it once,
// before it accepts connections; it is safe for concurrent use regardless.
func (e *Engine) SetRoles(roles []Role) {
	rows := make([]map[string][]byte, len(roles))
	for i, r := range roles {
		rows[i] = map[string][]byte{
			"role": encText(r.Name), "can_login": encBool(r.CanLogin), "is_superuser": encBool(r.IsSuperuser),
			"salted_hash": encText(r.SaltedHash),
		}
		if len(r.MemberOf) > 0 { // an empty collection reads as null
			rows[i]["member_of"] = encTextSet(r.MemberOf...)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keyspaces[ksSystemAuth].Tables["roles"].rows = func(*Engine) []map[string][]byte { return rows }
}
