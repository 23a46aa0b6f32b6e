package kafka

// AppendValue lets the external tests check the record value encoder on
// events that Record would reject before encoding.
var AppendValue = appendValue
