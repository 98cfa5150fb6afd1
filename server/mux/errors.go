package mux

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Error is a coded error sent to the client (in an error control message or a channel close).
// Codes are stable, lowercase snake_case strings documented in docs/protocol.md.
type Error struct {
	Code    string
	Message string
	err     error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Errorf returns an *Error with code and a formatted message; a %w verb keeps the cause.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), err: errors.Unwrap(err)}
}

// AsError returns err's *Error, or an "internal" one that does not leak err's text.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error", err: err}
}

// Error codes shared by the multiplexer and the channel kinds.
const (
	CodeBadFrame       = "bad_frame"       // undecodable frame or control message
	CodeFrameTooLarge  = "frame_too_large" // frame over the configured maximum
	CodeUnknownKind    = "unknown_kind"    // open named no registered kind
	CodeUnknownChannel = "unknown_channel" // frame for a channel that is not open
	CodeChannelLimit   = "channel_limit"   // too many channels on this connection
	CodeBadParams      = "bad_params"      // open parameters missing or invalid
	CodeUnauthorized   = "unauthorized"    // no or invalid credentials
	CodeForbidden      = "forbidden"       // the user may not do this (RBAC, room ACL)
	CodeNotFound       = "not_found"       // the object, room or session does not exist
	CodeLimit          = "limit"           // a per-user or per-server limit was reached
	CodeUnavailable    = "unavailable"     // a dependency (Redis, apiserver) is down; retry
	CodeSlowConsumer   = "slow_consumer"   // the client could not keep up
	CodeFlowControl    = "flow_control"    // the client sent past its credit
	CodeInternal       = "internal"        // a server bug; details are in the server log
	CodeShuttingDown   = "shutting_down"   // the server is stopping
	CodeIdleTimeout    = "idle_timeout"    // nothing was received for the idle timeout
	// CodeDisconnected: an admin closed the connection (the client should not reconnect by itself).
	CodeDisconnected = "disconnected_by_admin"
)

// WebSocket close codes. A connection closed for a coded reason uses the code's close code and
// "<code>: <message>" as the close reason, so a client can recover the error code from either.
const (
	CloseNormal        = 1000 // the connection or single-purpose stream ended normally
	CloseGoingAway     = 1001 // the server is shutting down (code shutting_down)
	CloseInternal      = 1011 // a server bug (code internal)
	CloseTryAgainLater = 1013 // a dependency is down (code unavailable)
)

var closeCodes = map[string]int{
	CodeBadFrame:       4000,
	CodeFrameTooLarge:  4001,
	CodeUnknownKind:    4002,
	CodeUnknownChannel: 4003,
	CodeChannelLimit:   4004,
	CodeBadParams:      4005,
	CodeForbidden:      4006,
	CodeNotFound:       4007,
	CodeLimit:          4008,
	CodeUnavailable:    CloseTryAgainLater,
	CodeSlowConsumer:   4010,
	CodeFlowControl:    4011,
	CodeInternal:       CloseInternal,
	CodeShuttingDown:   CloseGoingAway,
	CodeIdleTimeout:    4012,
	CodeDisconnected:   4013,
}

// CloseCode is the WebSocket close code for an error code; codes not listed above (a kind's
// own) close with 4099.
func CloseCode(code string) int {
	if c, ok := closeCodes[code]; ok {
		return c
	}
	return 4099
}

// CodeForClose is the error code of a close code, or "" when it names none.
func CodeForClose(closeCode int) string {
	for k, v := range closeCodes {
		if v == closeCode {
			return k
		}
	}
	return ""
}

// HTTPStatus is the HTTP status of err on the REST endpoints that answer with the channels' coded
// errors (log downloads, recordings, rooms, admin connections): one table, so a code means the
// same status everywhere. A deadline that ran out is a dependency being slow: 503.
func HTTPStatus(err error) int {
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable
	}
	switch AsError(err).Code {
	case CodeBadParams:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeLimit:
		return http.StatusTooManyRequests
	case CodeUnavailable, CodeShuttingDown:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
