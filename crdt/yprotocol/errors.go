package yprotocol

import (
	"errors"
	"fmt"
)

// Error is a coded protocol error. Codes are stable snake_case strings a server may log or map
// to a connection close reason.
type Error struct {
	Code    string
	Message string
	err     error
}

func (e *Error) Error() string { return "yprotocol: " + e.Code + ": " + e.Message }

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Error codes.
const (
	CodeMalformed    = "malformed"     // truncated, overlong or otherwise undecodable bytes
	CodeUnknownType  = "unknown_type"  // a message or sub-message type y-protocols does not define
	CodeInvalidState = "invalid_state" // an awareness state that is not valid JSON text
	CodeApply        = "apply_failed"  // the document rejected a sync payload
)

func errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), err: errors.Unwrap(err)}
}

// IsCode reports whether err is (or wraps) an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
