package orders

import "errors"

// ErrConflict reports that Store.Commit found another version of the order in
// the store than the one the change was computed from: another activation of
// the order (on this or another node) committed first, and nothing was
// written. Stores wrap it with the version they found; the order actor then
// forgets its state, reloads it before the next command and rejects the
// command with REJECT_CODE_CONFLICT.
var ErrConflict = errors.New("order version conflict")
