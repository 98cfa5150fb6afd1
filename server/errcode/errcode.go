// Package errcode is Yard's one error vocabulary: every coded error a client can receive, over
// HTTP or WebSocket, with its HTTP status, its WebSocket close code and whether a client should
// retry. It is a leaf: the multiplexer, the HTTP handlers and every domain package speak it, and
// the browser's tables are checked against Table (docs/protocol.md lists the codes).
package errcode

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Error is a coded error sent to a client (an HTTP error envelope, a multiplexer error control
// message or a close reason). Code is stable for programs, Message is for people.
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

// As returns err's *Error, or an "internal" one that does not leak err's text. A deadline that
// ran out is a dependency being slow: "unavailable".
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: Unavailable, Message: "timed out", err: err}
	}
	return &Error{Code: Internal, Message: "internal error", err: err}
}

// The codes. Each has one row in Table.
const (
	BadFrame       = "bad_frame"       // undecodable frame or control message
	FrameTooLarge  = "frame_too_large" // frame over the configured maximum
	UnknownKind    = "unknown_kind"    // open named no registered kind
	UnknownChannel = "unknown_channel" // frame for a channel that is not open
	ChannelLimit   = "channel_limit"   // too many channels on this connection
	BadParams      = "bad_params"      // parameters or body missing or invalid
	Unauthorized   = "unauthorized"    // no or invalid credentials
	Forbidden      = "forbidden"       // the user may not do this (RBAC, room ACL)
	NotFound       = "not_found"       // the object, room or session does not exist
	Limit          = "limit"           // a per-user or per-server limit was reached
	Unavailable    = "unavailable"     // a dependency (Redis, apiserver) is down; retry
	SlowConsumer   = "slow_consumer"   // the client could not keep up
	FlowControl    = "flow_control"    // the client sent past its credit
	Internal       = "internal"        // a server bug; details are in the server log
	ShuttingDown   = "shutting_down"   // the server is stopping
	IdleTimeout    = "idle_timeout"    // nothing was received for the idle timeout
	// Disconnected: an admin closed the connection (the client must not reconnect by itself).
	Disconnected = "disconnected_by_admin"
	// WritesDisabled: the server runs without --write-enabled; nothing was sent to the cluster.
	WritesDisabled = "writes_disabled"
	// Conflict: a field is owned by another field manager (server-side apply) or the object
	// changed meanwhile.
	Conflict = "conflict"
	// Invalid: the cluster refused an object as invalid (its dry run failed).
	Invalid = "invalid"
	// TooLarge: a request body over its limit.
	TooLarge = "too_large"
	// NotApproved: a deploy's approval policy is not met yet.
	NotApproved = "not_approved"
	// DeployInProgress: another deploy of the room is applying.
	DeployInProgress = "deploy_in_progress"
	// BadState: the request does not fit the object's state (e.g. approving a finished deploy).
	BadState = "bad_state"
	// MisdirectedHost: the Host header names no host this server answers to (DNS rebinding).
	MisdirectedHost = "misdirected_host"
)

// WebSocket close codes that are not a code's own.
const (
	CloseNormal        = 1000 // the connection or single-purpose stream ended normally
	CloseGoingAway     = 1001 // the server is shutting down (code shutting_down)
	CloseInternal      = 1011 // a server bug (code internal)
	CloseTryAgainLater = 1013 // a dependency is down (code unavailable)
	// CloseOther closes for a code that has no close code of its own.
	CloseOther = 4099
)

// Info is what a code means to a client.
type Info struct {
	Code   string `json:"code"`
	HTTP   int    `json:"http"`
	Close  int    `json:"close"`
	Retry  bool   `json:"retry"` // a client may reconnect or retry by itself
	Detail string `json:"detail"`
}

// Table is every code, in a fixed order (the browser's copy is tested against it).
var Table = []Info{
	{BadFrame, http.StatusBadRequest, 4000, false, "undecodable frame or control message"},
	{FrameTooLarge, http.StatusRequestEntityTooLarge, 4001, false, "frame over the configured maximum"},
	{UnknownKind, http.StatusBadRequest, 4002, false, "open named no registered kind"},
	{UnknownChannel, http.StatusBadRequest, 4003, false, "frame for a channel that is not open"},
	{ChannelLimit, http.StatusTooManyRequests, 4004, false, "too many channels on this connection"},
	{BadParams, http.StatusBadRequest, 4005, false, "parameters or body missing or invalid"},
	{Unauthorized, http.StatusUnauthorized, 4009, false, "no or invalid credentials"},
	{Forbidden, http.StatusForbidden, 4006, false, "the user may not do this"},
	{NotFound, http.StatusNotFound, 4007, false, "the object, room or session does not exist"},
	{Limit, http.StatusTooManyRequests, 4008, false, "a per-user or per-server limit was reached"},
	{Unavailable, http.StatusServiceUnavailable, CloseTryAgainLater, true, "a dependency is down"},
	{SlowConsumer, http.StatusServiceUnavailable, 4010, true, "the client could not keep up"},
	{FlowControl, http.StatusBadRequest, 4011, false, "the client sent past its credit"},
	{Internal, http.StatusInternalServerError, CloseInternal, true, "a server bug"},
	{ShuttingDown, http.StatusServiceUnavailable, CloseGoingAway, true, "the server is stopping"},
	{IdleTimeout, http.StatusRequestTimeout, 4012, true, "nothing was received for the idle timeout"},
	{Disconnected, http.StatusForbidden, 4013, false, "an admin closed the connection"},
	{WritesDisabled, http.StatusForbidden, 4014, false, "cluster writes are off on this server"},
	{Conflict, http.StatusConflict, 4015, false, "a field is owned by another manager"},
	{Invalid, http.StatusUnprocessableEntity, 4016, false, "the cluster refused the object as invalid"},
	{TooLarge, http.StatusRequestEntityTooLarge, 4017, false, "a body over its limit"},
	{NotApproved, http.StatusConflict, 4018, false, "the deploy's approval policy is not met"},
	{DeployInProgress, http.StatusConflict, 4019, true, "another deploy of the room is applying"},
	{BadState, http.StatusConflict, 4020, false, "the request does not fit the object's state"},
	{MisdirectedHost, http.StatusMisdirectedRequest, 4021, false, "the Host names no host this server answers to"},
}

var byCode = func() map[string]Info {
	m := make(map[string]Info, len(Table))
	for _, in := range Table {
		m[in.Code] = in
	}
	return m
}()

// Lookup returns the row of code.
func Lookup(code string) (Info, bool) {
	in, ok := byCode[code]
	return in, ok
}

// CloseCode is the WebSocket close code for an error code; a code not in Table (a kind's own)
// closes with CloseOther.
func CloseCode(code string) int {
	if in, ok := byCode[code]; ok {
		return in.Close
	}
	return CloseOther
}

// ForClose is the error code of a close code, or "" when it names none.
func ForClose(closeCode int) string {
	for _, in := range Table {
		if in.Close == closeCode {
			return in.Code
		}
	}
	return ""
}

// HTTPStatus is the HTTP status of err: its code's, 503 for a deadline that ran out, else 500.
func HTTPStatus(err error) int {
	if in, ok := byCode[As(err).Code]; ok {
		return in.HTTP
	}
	return http.StatusInternalServerError
}

// Retry reports whether a client may retry or reconnect by itself after code.
func Retry(code string) bool {
	in, ok := byCode[code]
	return !ok || in.Retry
}
