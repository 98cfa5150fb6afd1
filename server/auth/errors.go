package auth

import "errors"

// Error is a coded authentication failure. Code is stable and machine-readable; it is what
// clients and metrics see.
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

var _ error = (*Error)(nil)

// The codes. They appear in HTTP error envelopes and WebSocket refusals.
const (
	CodeMissing        = "unauthenticated"
	CodeInvalid        = "invalid_token"
	CodeExpired        = "token_expired"
	CodeUnknownKey     = "unknown_key"
	CodeTicketInvalid  = "invalid_ticket"
	CodeRefreshNotHere = "refresh_unsupported"
	CodeAudience       = "wrong_audience"    // aud is not --jwt-audience
	CodeIssuer         = "wrong_issuer"      // iss is not --jwt-issuer
	CodeReserved       = "reserved_identity" // a system: user or group
	CodeSessionOver    = "session_expired"   // refresh past --session-max
	CodeTicketLimit    = "limit"             // too many outstanding tickets (errcode.Limit)
)

func authErr(code, msg string, err error) error { return &Error{Code: code, Message: msg, Err: err} }

// CodeOf returns the code of an auth error, or CodeInvalid for any other error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInvalid
}

// MessageOf returns the message of an auth error, safe to show a client, or a generic one.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "invalid credentials"
}
