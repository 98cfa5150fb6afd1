package mux

import "github.com/yardhq/yard/server/errcode"

// Error is a coded error sent to the client (in an error control message or a channel close);
// the vocabulary is errcode's, so a code means the same on every endpoint.
type Error = errcode.Error

// Errorf returns an *Error with code and a formatted message; a %w verb keeps the cause.
func Errorf(code, format string, args ...any) *Error { return errcode.Errorf(code, format, args...) }

// AsError returns err's *Error, or an "internal" one that does not leak err's text.
func AsError(err error) *Error { return errcode.As(err) }

// Error codes shared by the multiplexer and the channel kinds (errcode's, named here for the
// kinds that speak only to the multiplexer).
const (
	CodeBadFrame       = errcode.BadFrame
	CodeFrameTooLarge  = errcode.FrameTooLarge
	CodeUnknownKind    = errcode.UnknownKind
	CodeUnknownChannel = errcode.UnknownChannel
	CodeChannelLimit   = errcode.ChannelLimit
	CodeBadParams      = errcode.BadParams
	CodeUnauthorized   = errcode.Unauthorized
	CodeForbidden      = errcode.Forbidden
	CodeNotFound       = errcode.NotFound
	CodeLimit          = errcode.Limit
	CodeUnavailable    = errcode.Unavailable
	CodeSlowConsumer   = errcode.SlowConsumer
	CodeFlowControl    = errcode.FlowControl
	CodeInternal       = errcode.Internal
	CodeShuttingDown   = errcode.ShuttingDown
	CodeIdleTimeout    = errcode.IdleTimeout
	CodeDisconnected   = errcode.Disconnected
)

// WebSocket close codes that are not a code's own.
const (
	CloseNormal        = errcode.CloseNormal
	CloseGoingAway     = errcode.CloseGoingAway
	CloseInternal      = errcode.CloseInternal
	CloseTryAgainLater = errcode.CloseTryAgainLater
)

// CloseCode is the WebSocket close code for an error code.
func CloseCode(code string) int { return errcode.CloseCode(code) }

// CodeForClose is the error code of a close code, or "" when it names none.
func CodeForClose(closeCode int) string { return errcode.ForClose(closeCode) }

// HTTPStatus is the HTTP status of err (errcode's table).
func HTTPStatus(err error) int { return errcode.HTTPStatus(err) }
