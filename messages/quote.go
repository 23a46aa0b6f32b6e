package messages

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// maxQuoted bounds how much of a client's value a rejection reason quotes, in runes.
const maxQuoted = 64

// QuoteInput renders a value a client sent for a CommandRejected reason: Go-quoted (control
// characters and invalid UTF-8 escaped, never sent back raw) and cut to 64 runes with "…" and
// the full length in bytes, so a reason never grows with the input.
func QuoteInput(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut, n := len(s), 0
	for i := range s {
		if n == maxQuoted {
			cut = i
			break
		}
		n++
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}
